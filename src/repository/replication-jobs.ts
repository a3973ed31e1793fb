import { messageOf } from "../domain/errors.js";
import { checkReplicable } from "./compat.js";
import { repoError } from "./errors.js";
import { checkSegment } from "./ids.js";
import { replicate, type ReplicatedPoint, type ReplicationReport } from "./replicate.js";
import {
  loadIncoming,
  loadOutbound,
  replicatesMachine,
  saveIncoming,
  saveOutbound,
  type OutboundReplication,
} from "./replication-state.js";
import type { Repository } from "./repository.js";

export interface SetUpOptions {
  /** Where the target is, as the source will reach it later (a directory path). */
  readonly location: string;
  readonly machines?: readonly string[];
  readonly paused?: boolean;
  /** Existing points come by seed drive; only points written after set-up cross the network. */
  readonly withSeedDrive?: boolean;
  readonly schedule?: string;
  readonly prefix?: string;
  /** Where the source is, for the target's incoming record. */
  readonly sourceLocation?: string;
  readonly now?: Date;
}

/** Records a replication from `source` to `target` in the source (and what to expect in the target). */
export async function setUpReplication(
  source: Repository,
  target: Repository,
  options: SetUpOptions,
): Promise<OutboundReplication> {
  await checkReplicable(source, target, options.location);
  const now = (options.now ?? new Date()).toISOString();
  if (await loadOutbound(source.storage, target.config.id)) {
    throw repoError(
      "USAGE",
      `Replication to ${target.config.id} is already set up: use "replication pause|resume" or "replication remove"`,
    );
  }
  for (const m of options.machines ?? []) checkSegment("machine id", m);
  if (options.prefix) checkSegment("machine id", `${options.prefix}x`);
  let seed: OutboundReplication["seed"] = null;
  if (options.withSeedDrive) {
    const upTo: Record<string, string> = {};
    for (const ref of await source.listPoints()) {
      if (options.machines && !options.machines.includes(ref.machineId)) continue;
      if (!upTo[ref.machineId] || upTo[ref.machineId]! < ref.pointId) upTo[ref.machineId] = ref.pointId;
    }
    seed = { state: "pending", createdAt: now, upTo };
  }
  const record: OutboundReplication = {
    format: 1,
    target: { id: target.config.id, location: options.location },
    createdAt: now,
    machines: options.machines ? [...options.machines] : null,
    paused: options.paused ?? false,
    pausedMachines: [],
    schedule: options.schedule ?? "after-backup",
    prefix: options.prefix ?? "",
    seed,
    last: null,
  };
  await saveOutbound(source.storage, record);
  await saveIncoming(target.storage, {
    format: 1,
    source: { id: source.config.id, location: options.sourceLocation ?? "" },
    lastAt: now,
    seed: seed ? { state: "pending", seedId: null } : null,
    machines: [],
    orphans: [],
  });
  return record;
}

export interface RunOptions {
  readonly machines?: readonly string[];
  readonly signal?: AbortSignal;
  readonly now?: () => Date;
  readonly sourceLocation?: string;
  readonly onPoint?: (p: ReplicatedPoint) => void;
}

/**
 * One run of a set-up replication: paused machines are skipped; points older than a pending seed
 * drive stay behind with their chunks; once the target reports the seed consumed (or the user
 * abandons it) nothing is withheld any more, and after abandonment the orphans already there are
 * completed over the network once. The outcome is recorded in both repositories.
 */
export async function runReplication(
  source: Repository,
  target: Repository,
  options: RunOptions = {},
): Promise<{ report: ReplicationReport; record: OutboundReplication }> {
  const now = options.now ?? (() => new Date());
  const record = await loadOutbound(source.storage, target.config.id);
  if (!record) {
    throw repoError(
      "REPLICATION_NOT_FOUND",
      `No replication from ${source.config.id} to ${target.config.id} is set up`,
    );
  }
  const incoming = await loadIncoming(target.storage, source.config.id);
  let seed = record.seed;
  if (seed?.state === "pending" && incoming?.seed?.state === "consumed")
    seed = { ...seed, state: "consumed" };
  const machines = [...new Set((await source.listPoints()).map((r) => r.machineId))].filter(
    (m) => replicatesMachine(record, m) && (!options.machines || options.machines.includes(m)),
  );
  const recheck = new Set(incoming?.orphans ?? []);
  let report: ReplicationReport;
  try {
    report = await replicate(source, target, {
      machines,
      ...(seed ? { upTo: seed.upTo, withholdBefore: seed.state === "pending" } : {}),
      recheck,
      prefix: record.prefix,
      ...(options.signal ? { signal: options.signal } : {}),
      now,
      ...(options.onPoint ? { onPoint: options.onPoint } : {}),
    });
  } catch (err) {
    const failed = {
      ...record,
      seed,
      last: { at: now().toISOString(), ok: false, pointsCopied: 0, bytesSent: 0, error: messageOf(err) },
    };
    await saveOutbound(source.storage, failed).catch(() => undefined);
    throw err;
  }
  // Orphans not looked at this run (paused machines) stay listed; the others as they are now.
  const seen = new Set(report.points.map((p) => `${p.target.machineId}/${p.target.pointId}`));
  const orphans = [
    ...[...recheck].filter((k) => !seen.has(k)),
    ...report.points.filter((p) => p.missing > 0).map((p) => `${p.target.machineId}/${p.target.pointId}`),
  ].sort();
  const updated: OutboundReplication = {
    ...record,
    seed,
    last: {
      at: now().toISOString(),
      ok: true,
      pointsCopied: report.points.filter((p) => p.action === "copied").length,
      bytesSent: report.bytesSent,
      error: null,
    },
  };
  await saveOutbound(source.storage, updated);
  await saveIncoming(target.storage, {
    format: 1,
    source: { id: source.config.id, location: options.sourceLocation ?? incoming?.source.location ?? "" },
    lastAt: now().toISOString(),
    seed: seed ? { state: seed.state, seedId: incoming?.seed?.seedId ?? null } : null,
    machines: [
      ...new Set([...(incoming?.machines ?? []), ...machines.map((m) => `${record.prefix}${m}`)]),
    ].sort(),
    orphans,
  });
  return { report, record: updated };
}

/** Pause or resume a whole replication, or some of its machines. */
export async function setPaused(
  source: Repository,
  record: OutboundReplication,
  paused: boolean,
  machines?: readonly string[],
): Promise<OutboundReplication> {
  let updated: OutboundReplication;
  if (!machines || machines.length === 0)
    updated = { ...record, paused, pausedMachines: paused ? record.pausedMachines : [] };
  else {
    const set = new Set(record.pausedMachines);
    for (const m of machines) {
      checkSegment("machine id", m);
      if (paused) set.add(m);
      else set.delete(m);
    }
    updated = { ...record, pausedMachines: [...set].sort() };
  }
  await saveOutbound(source.storage, updated);
  return updated;
}

/**
 * Abandons the pending seed drive: points before set-up will not come, and nothing is held back any
 * more, so the next run completes the orphans already in the target over the network.
 */
export async function abandonSeed(
  source: Repository,
  record: OutboundReplication,
): Promise<OutboundReplication> {
  if (!record.seed || record.seed.state !== "pending") {
    throw repoError(
      "USAGE",
      `Replication to ${record.target.id} has no pending seed drive (${record.seed ? record.seed.state : "set up without one"})`,
    );
  }
  const updated = { ...record, seed: { ...record.seed, state: "abandoned" as const } };
  await saveOutbound(source.storage, updated);
  return updated;
}
