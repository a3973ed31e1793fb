import { repoError } from "./errors.js";
import { checkSegment } from "./ids.js";
import type { Repository } from "./repository.js";
import { loadOrigin, saveOrigin, type OriginRecord } from "./replication-state.js";

/** Where a machine's points were first written: its home repository and its id there. */
export interface MachineHome {
  readonly home: string;
  readonly homeMachine: string;
}

/** A machine's home as `repo` knows it: its origin record, or `repo` itself for a machine backed up there. */
export async function homeOf(repo: Repository, machine: string): Promise<MachineHome> {
  const origin = await loadOrigin(repo.storage, machine);
  return origin
    ? { home: origin.home, homeMachine: origin.homeMachine }
    : { home: repo.config.id, homeMachine: machine };
}

/**
 * Admits machine `home` under id `machine` into `target` (replication or seed from `via`), or
 * refuses with MACHINE_CONFLICT when that id already holds another home's machine: two sites that
 * both call a VM "vm-1" must not end up in one chain. The origin record is written before any
 * point of the machine lands, so a later conflict is always detected.
 */
export async function admitMachine(
  target: Repository,
  machine: string,
  from: MachineHome & { readonly via: string; readonly now: Date },
): Promise<void> {
  checkSegment("machine id", machine);
  const existing = await loadOrigin(target.storage, machine);
  const fix = `replicate it under a prefix (--prefix SITE.) or to another repository`;
  if (existing) {
    if (existing.home === from.home && existing.homeMachine === from.homeMachine) return;
    throw repoError(
      "MACHINE_CONFLICT",
      `Machine ${machine} in repository ${target.config.id} came from repository ${existing.home} (as ${existing.homeMachine}); ` +
        `repository ${from.home} has another machine with that id: ${fix}`,
      { details: { machine, existing: existing.home, incoming: from.home } },
    );
  }
  if (from.home === target.config.id) {
    if (from.homeMachine === machine) return; // its own machine coming back round a loop of hops
  } else if ((await target.listPoints(machine)).length > 0) {
    throw repoError(
      "MACHINE_CONFLICT",
      `Machine ${machine} is backed up directly into repository ${target.config.id}; ` +
        `repository ${from.home} has another machine with that id: ${fix}`,
      { details: { machine, incoming: from.home } },
    );
  }
  const record: OriginRecord = {
    format: 1,
    machine,
    home: from.home,
    homeMachine: from.homeMachine,
    via: from.via,
    since: from.now.toISOString(),
  };
  await saveOrigin(target.storage, record);
}
