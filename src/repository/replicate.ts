import { availableParallelism } from "node:os";
import { openIndexBlob, openManifestBlob } from "./arrival.js";
import type { DiskIndex } from "./index-format.js";
import { checkReplicable } from "./compat.js";
import { DigestSet } from "./digest-set.js";
import { repoError } from "./errors.js";
import { checkSegment } from "./ids.js";
import { Limiter } from "./limiter.js";
import type { Manifest } from "./manifest.js";
import { admitMachine, homeOf } from "./origins.js";
import { runPool } from "./pool.js";
import { LanePool } from "./slab.js";
import { CHUNK_BLOB_OVERHEAD } from "./blob.js";
import { keys, type PointRef, type Repository } from "./repository.js";
import { sealRenamed } from "./rename.js";

export interface ReplicateOptions {
  /** Machines to replicate (default: every machine of the source). */
  readonly machines?: readonly string[];
  /**
   * Per machine, the newest point that stays behind: only later points are sent. With
   * `withholdBefore`, the chunks of the points left behind are not sent either (they come by seed
   * drive), so the first points sent arrive orphaned.
   */
  readonly upTo?: Readonly<Record<string, string>>;
  readonly withholdBefore?: boolean;
  /** Also send the missing chunks of every point already on the target (orphans). */
  readonly repair?: boolean;
  /** Points already on the target, as "machine/point" (target ids), to complete if orphaned. */
  readonly recheck?: ReadonlySet<string>;
  /** Stored in the target under `prefix + machine` (many-to-one with clashing machine ids). */
  readonly prefix?: string;
  /** Chunks in flight at once. */
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
  readonly now?: () => Date;
  /** Names for messages and records. */
  readonly sourceName?: string;
  readonly onPoint?: (p: ReplicatedPoint) => void;
}

export interface ReplicatedPoint {
  readonly source: PointRef;
  readonly target: PointRef;
  /** "copied" this run, "repaired" (already there, missing chunks sent), "present" (nothing to do). */
  readonly action: "copied" | "repaired" | "present";
  readonly chunksSent: number;
  readonly bytesSent: number;
  /** Chunks the target still lacks: more than 0 means the point is orphaned there. */
  readonly missing: number;
}

export interface ReplicationReport {
  readonly points: readonly ReplicatedPoint[];
  /** Points older than `upTo`, left for a seed drive. */
  readonly pointsHeldBack: number;
  readonly chunksSent: number;
  /** Stored (compressed, sealed) bytes that crossed: the blobs as they are. */
  readonly bytesSent: number;
  /** Chunks needed that the target already had (deduplicated, or arrived before an interruption). */
  readonly chunksPresent: number;
}

interface Run {
  readonly source: Repository;
  readonly target: Repository;
  readonly options: ReplicateOptions;
  readonly from: string;
  /** Ids known to be in the target (sent or found this run). */
  readonly present: DigestSet;
  readonly verify: Limiter;
  /** Buffers for chunks in flight (slab.ts). */
  readonly lanes: LanePool;
  chunksSent: number;
  bytesSent: number;
  chunksPresent: number;
}

/**
 * Replicates points from `source` into `target` (PBS-style sync, in chain order): per point, the
 * chunks the target lacks are copied as stored and opened with the target's keys on arrival (decode
 * and id check), then the indexes, then the manifest, each step made durable before the next; so a
 * point is visible in the target only once complete, and a run killed at any moment resumes without
 * resending the chunks that arrived. The caller holds a `read` lock on the source and a `backup`
 * lock on the target.
 */
export async function replicate(
  source: Repository,
  target: Repository,
  options: ReplicateOptions = {},
): Promise<ReplicationReport> {
  const from = options.sourceName ?? `repository ${source.config.id}`;
  await checkReplicable(source, target, target.config.id);
  const run: Run = {
    source,
    target,
    options,
    from,
    present: new DigestSet(1 << 12),
    verify: new Limiter(availableParallelism()),
    lanes: new LanePool(options.concurrency ?? 8, source.chunkSize + CHUNK_BLOB_OVERHEAD),
    chunksSent: 0,
    bytesSent: 0,
    chunksPresent: 0,
  };
  const now = options.now ?? (() => new Date());
  const refs = await source.listPoints();
  const machines = [...new Set(refs.map((r) => r.machineId))]
    .filter((m) => !options.machines || options.machines.includes(m))
    .sort();
  const unknown = (options.machines ?? []).filter((m) => !machines.includes(m));
  if (unknown.length > 0) {
    throw repoError(
      "POINT_NOT_FOUND",
      `Source ${from} has no recovery points of machine ${unknown.join(", ")}`,
      {
        details: { machines: unknown },
      },
    );
  }
  const points: ReplicatedPoint[] = [];
  let heldBack = 0;
  for (const machine of machines) {
    const mine = refs.filter((r) => r.machineId === machine);
    const cutoff = options.upTo?.[machine];
    const behind = cutoff === undefined ? [] : mine.filter((r) => r.pointId <= cutoff);
    heldBack += behind.length;
    const withheld = new DigestSet(1024);
    if (options.withholdBefore) for (const ref of behind) await addIds(source, ref, withheld);
    const targetMachine = checkSegment("machine id", `${options.prefix ?? ""}${machine}`);
    const home = await homeOf(source, machine);
    await admitMachine(target, targetMachine, { ...home, via: source.config.id, now: now() });
    for (const ref of mine) {
      if (cutoff !== undefined && ref.pointId <= cutoff) continue;
      options.signal?.throwIfAborted();
      const done = await replicatePoint(
        run,
        ref,
        { machineId: targetMachine, pointId: ref.pointId },
        withheld,
      );
      points.push(done);
      options.onPoint?.(done);
    }
  }
  return {
    points,
    pointsHeldBack: heldBack,
    chunksSent: run.chunksSent,
    bytesSent: run.bytesSent,
    chunksPresent: run.chunksPresent,
  };
}

async function addIds(repo: Repository, ref: PointRef, set: DigestSet): Promise<void> {
  const manifest = await repo.readManifest(ref);
  for (const d of manifest.disks)
    for (const ids of (await repo.readIndex(manifest, d.key)).idBuffers()) set.addAll(ids);
}

async function replicatePoint(
  run: Run,
  ref: PointRef,
  to: PointRef,
  withheld: DigestSet,
): Promise<ReplicatedPoint> {
  const { source, target, options } = run;
  const exists = (await target.storage.stat(keys.manifest(to))) !== undefined;
  if (exists && !options.repair && !options.recheck?.has(`${to.machineId}/${to.pointId}`))
    return { source: ref, target: to, action: "present", chunksSent: 0, bytesSent: 0, missing: 0 };

  const manifestKey = keys.manifest(ref);
  const manifestBlob = await source.storage.get(manifestKey);
  const manifest: Manifest = await source.readManifest(ref);
  const indexes: { disk: string; blob: Buffer; index: DiskIndex }[] = [];
  for (const d of manifest.disks) {
    const key = keys.index(ref, d.key);
    const blob = (await source.storage.get(key)) ?? Buffer.alloc(0);
    // Opened with the target's keys: the proof that it will read there as it does here.
    const index = await openIndexBlob(target, manifest, d.key, key, blob, run.from);
    indexes.push({ disk: d.key, blob, index });
  }

  const unique: Buffer[] = [];
  const seen = new DigestSet(1024);
  for (const ix of indexes) {
    for (const ids of ix.index.idBuffers())
      for (let off = 0; off < ids.length; off += 32) {
        const id = ids.subarray(off, off + 32);
        if (!run.present.has(id) && seen.add(id)) unique.push(id);
      }
  }
  let missing = 0;
  const before = { chunks: run.chunksSent, bytes: run.bytesSent };
  await runPool(unique, options.concurrency ?? 8, 0, async (id) => {
    options.signal?.throwIfAborted();
    const outcome = await landChunk(run, id, withheld);
    if (outcome === "missing") missing++;
  });
  await target.storage.flush();

  if (!exists) {
    // A shared disk stored as another machine's point travels with the points that reference it.
    for (const r of manifest.references) await replicateReferenced(run, r);
    const renamed = to.machineId !== ref.machineId;
    if (renamed) {
      const sealed = await sealRenamed(target, manifest, indexes, to, options.prefix ?? "");
      for (const s of sealed.indexes) await target.storage.putIfAbsent(s.key, s.blob, options.signal);
      await target.storage.flush();
      await target.storage.putIfAbsent(sealed.manifest.key, sealed.manifest.blob, options.signal);
    } else {
      for (const ix of indexes)
        await target.storage.putIfAbsent(keys.index(to, ix.disk), ix.blob, options.signal);
      await target.storage.flush();
      const blob = manifestBlob ?? Buffer.alloc(0);
      await openManifestBlob(target, to, manifestKey, blob, run.from);
      await target.storage.putIfAbsent(keys.manifest(to), blob, options.signal);
    }
    await target.storage.flush();
  }
  return {
    source: ref,
    target: to,
    action: exists ? (run.chunksSent > before.chunks ? "repaired" : "present") : "copied",
    chunksSent: run.chunksSent - before.chunks,
    bytesSent: run.bytesSent - before.bytes,
    missing,
  };
}

/**
 * One chunk: already in the target (touched, so a concurrent gc spares it), withheld for a seed,
 * missing from the source too (an orphan replicated onward), or copied and checked on arrival.
 */
async function landChunk(run: Run, id: Buffer, withheld: DigestSet): Promise<"present" | "sent" | "missing"> {
  const hex = id.toString("hex");
  const key = keys.chunk(hex);
  if (await run.target.storage.touch(key)) {
    run.present.add(id);
    run.chunksPresent++;
    return "present";
  }
  if (withheld.has(id)) return "missing";
  // Read into a lane (direct I/O), checked in place by a worker, stored from the lane (direct I/O).
  const sent = await run.lanes.use(async (lane) => {
    const length = await run.source.storage.getInto(key, lane, run.options.signal);
    if (length === undefined) return { result: undefined, lane };
    const back = await run.verify.run(() => run.target.checkChunkIn(hex, lane, length, run.from));
    const stored = await run.target.storage.putIfAbsent(key, back.subarray(0, length), run.options.signal);
    return { result: stored ? length : 0, lane: back };
  });
  if (sent === undefined) return "missing";
  if (sent > 0) {
    run.chunksSent++;
    run.bytesSent += sent;
  } else run.chunksPresent++;
  run.present.add(id);
  return "sent";
}

async function replicateReferenced(run: Run, r: { machineId: string; pointId: string }): Promise<void> {
  const prefix = run.options.prefix ?? "";
  const to: PointRef = {
    machineId: checkSegment("machine id", `${prefix}${r.machineId}`),
    pointId: r.pointId,
  };
  if (await run.target.storage.stat(keys.manifest(to))) return;
  const home = await homeOf(run.source, r.machineId);
  const now = run.options.now ?? (() => new Date());
  await admitMachine(run.target, to.machineId, { ...home, via: run.source.config.id, now: now() });
  await replicatePoint(run, { machineId: r.machineId, pointId: r.pointId }, to, new DigestSet(1));
}
