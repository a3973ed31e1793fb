/**
 * One backup cycle as `snapvisor backup` and the scheduler run it: inventory of each source the
 * chosen groups use -> latest points from the repository -> plan -> job. `--group` and `--vm`
 * narrow it; names that match nothing are a usage error rather than a silent no-op.
 */
import { isSnapvisorError, messageOf } from "../domain/errors.js";
import type { HypervisorSession, VmInfo } from "../domain/hypervisor.js";
import type { Clock, Logger } from "../domain/ports.js";
import type { LatestPoint, RepositoryWriter } from "../domain/repository-port.js";
import { runBackupJob, type JobEvent } from "./backup-job.js";
import type { Config } from "./config-schema.js";
import { ControllerError } from "./errors.js";
import { exitCodeOf, type JobSummary, type ObjectOutcome } from "./job-summary.js";
import { Limiter } from "./limits.js";
import { planBackup, sharedDiskId, type BackupPlan, type SourceInventory } from "./plan.js";

export interface BackupCycleOptions {
  readonly config: Config;
  /** Session per source name; only the sources of the chosen groups are used. */
  readonly sessions: ReadonlyMap<string, HypervisorSession>;
  readonly repository: RepositoryWriter;
  readonly clock: Clock;
  readonly jobId: string;
  /** Group names (`--group`); all groups when absent. */
  readonly groups?: readonly string[];
  /** VM names (`--vm`), case-insensitive; all VMs of the groups when absent. */
  readonly vmNames?: readonly string[];
  /** VM names per group at the previous run (job history), to report added/removed VMs. */
  readonly previousMembers?: ReadonlyMap<string, readonly string[]>;
  /** Shared between cycles that run at once (the scheduler); a fresh one from the config otherwise. */
  readonly limiter?: Limiter;
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
  readonly onPlan?: (plan: BackupPlan) => void;
  readonly onEvent?: (event: JobEvent) => void;
}

function chooseGroups(config: Config, names: readonly string[] | undefined): Config["protectionGroups"] {
  if (names === undefined) return config.protectionGroups;
  const unknown = names.filter((n) => !config.protectionGroups.some((g) => g.name === n));
  if (unknown.length > 0) {
    const known = config.protectionGroups.map((g) => g.name).join("|") || "(none configured)";
    throw new ControllerError(
      "USAGE",
      `Unknown protection group ${unknown.map((n) => `"${n}"`).join(", ")}: expected one of ${known}`,
    );
  }
  return config.protectionGroups.filter((g) => names.includes(g.name));
}

function chooseVms(inventory: SourceInventory[], names: readonly string[] | undefined): SourceInventory[] {
  if (names === undefined) return inventory;
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const found = new Set<string>();
  const out = inventory.map((s) => ({
    source: s.source,
    vms: s.vms.filter((v) => {
      const hit = wanted.has(v.name.toLowerCase());
      if (hit) found.add(v.name.toLowerCase());
      return hit;
    }),
  }));
  const missing = names.filter((n) => !found.has(n.toLowerCase()));
  if (missing.length > 0) {
    throw new ControllerError(
      "USAGE",
      `No VM named ${missing.map((n) => `"${n}"`).join(", ")} in the inventory of the chosen groups`,
    );
  }
  return out;
}

/** Latest point of every VM and shared disk of the inventory, asked concurrently. */
export async function latestPoints(
  repository: RepositoryWriter,
  inventory: readonly SourceInventory[],
  signal?: AbortSignal,
): Promise<Map<string, LatestPoint>> {
  const ids = new Set<string>();
  for (const { vms } of inventory) {
    for (const vm of vms) {
      ids.add(vm.id);
      for (const d of vm.disks) if (d.shared) ids.add(sharedDiskId(vm.cluster ?? vm.host, d.path));
    }
  }
  const entries = await Promise.all(
    [...ids].map(async (id) => [id, await repository.latestPoint(id, signal)] as const),
  );
  const out = new Map<string, LatestPoint>();
  for (const [id, point] of entries) if (point) out.set(id, point);
  return out;
}

export async function runBackupCycle(
  options: BackupCycleOptions,
): Promise<{ plan: BackupPlan; summary: JobSummary }> {
  const { config, signal } = options;
  const groups = chooseGroups(config, options.groups);
  const inventory: SourceInventory[] = [];
  // A source that cannot be listed fails its groups, not the others' (a host down for maintenance).
  const unreachable: ObjectOutcome[] = [];
  for (const source of [...new Set(groups.map((g) => g.source))]) {
    const session = options.sessions.get(source);
    if (!session) throw new ControllerError("USAGE", `No connection to source "${source}"`);
    try {
      const vms: readonly VmInfo[] = await session.inventory(signal);
      inventory.push({ source, vms });
    } catch (err) {
      if (signal?.aborted) throw err;
      const affected = groups.filter((g) => g.source === source).map((g) => g.name);
      options.logger?.error({ source, err: messageOf(err) }, "inventory failed");
      unreachable.push({
        kind: "source",
        id: source,
        name: source,
        group: undefined,
        status: "failed",
        messages: [
          `Cannot list the VMs of "${source}" (groups ${affected.join(", ")} not backed up): ${messageOf(err)}`,
        ],
        disks: [],
        leftoversRemoved: [],
        errorCode: isSnapvisorError(err) ? err.code : "VM_FAILED",
      });
    }
  }
  const chosen = chooseVms(inventory, options.vmNames);
  const plan = planBackup({
    inventory: chosen,
    groups,
    latest: await latestPoints(options.repository, chosen, signal),
    // A `--vm` run covers part of a group: comparing it with the last full membership would
    // report every other VM as removed.
    ...(options.previousMembers && !options.vmNames ? { previousMembers: options.previousMembers } : {}),
    now: options.clock.now(),
  });
  options.onPlan?.(plan);
  const jobSummary = await runBackupJob({
    jobId: options.jobId,
    plan,
    sessions: options.sessions,
    repository: options.repository,
    limiter: options.limiter ?? new Limiter(config.limits),
    clock: options.clock,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(signal ? { signal } : {}),
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  });
  for (const o of unreachable) options.onEvent?.({ type: "object-done", outcome: o });
  const outcomes = [...unreachable, ...jobSummary.outcomes];
  const summary: JobSummary = { ...jobSummary, outcomes, exitCode: exitCodeOf(outcomes) };
  return { plan, summary };
}
