import { DigestSet } from "./digest-set.js";
import { listLocks, lockState, processLockEnv, type LockEnv } from "./locks.js";
import { chunkIdFromKey, type Repository } from "./repository.js";

export interface GcOptions {
  /** Chunks written or touched less than this long before the cutoff are kept. Default 1 hour. */
  readonly graceMs?: number;
  readonly dryRun?: boolean;
  readonly signal?: AbortSignal;
  readonly lockEnv?: LockEnv;
}

export interface GcReport {
  readonly pointsMarked: number;
  readonly chunksInUse: number;
  readonly chunksSeen: number;
  readonly chunksRemoved: number;
  readonly bytesRemoved: number;
  /** Unreferenced but younger than the cutoff: a running backup may be about to reference them. */
  readonly chunksSpared: number;
  readonly cutoff: string;
  readonly incompletePointsRemoved: number;
  readonly temporaryFilesRemoved: number;
}

export const DEFAULT_GC_GRACE_MS = 60 * 60 * 1000;

/**
 * Mark and sweep. Mark: every chunk id of every committed point's indexes (a point that cannot be
 * read stops the collection: what it references is unknown). Sweep: unreferenced chunks whose
 * mtime is older than the cutoff = min(start, oldest running backup's start) - grace, removed with
 * `deleteIfOlder` so a backup that touches a chunk it reuses keeps it. Runs beside backups (the
 * caller holds the `gc` lock); prune is excluded.
 */
export async function collectGarbage(repo: Repository, options: GcOptions = {}): Promise<GcReport> {
  const env = options.lockEnv ?? processLockEnv;
  const start = env.now().getTime();
  let oldestWriter = start;
  for (const { lock } of await listLocks(repo.storage)) {
    if (lock && lock.mode === "backup" && lockState(lock, env) === "live") {
      oldestWriter = Math.min(oldestWriter, Date.parse(lock.createdAt));
    }
  }
  const cutoff = oldestWriter - (options.graceMs ?? DEFAULT_GC_GRACE_MS);

  const refs = await repo.listPoints();
  const marked = new DigestSet(1 << 16);
  const committedDirs = new Set<string>();
  for (const ref of refs) {
    options.signal?.throwIfAborted();
    committedDirs.add(`points/${ref.machineId}/${ref.pointId}/`);
    const manifest = await repo.readManifest(ref);
    for (const disk of manifest.disks)
      for (const ids of (await repo.readIndex(manifest, disk.key)).idBuffers()) marked.addAll(ids);
  }

  let seen = 0;
  let removed = 0;
  let bytes = 0;
  let spared = 0;
  for await (const o of repo.storage.list("chunks/")) {
    options.signal?.throwIfAborted();
    const hex = chunkIdFromKey(o.key);
    if (!hex) continue;
    seen++;
    if (marked.has(Buffer.from(hex, "hex"))) continue;
    if (o.mtimeMs >= cutoff) {
      spared++;
      continue;
    }
    if (options.dryRun || (await repo.storage.deleteIfOlder(o.key, cutoff))) {
      removed++;
      bytes += o.size;
    } else spared++;
  }

  // Index files of points whose manifest never landed (a backup killed before its commit).
  let incomplete = 0;
  const orphanDirs = new Map<string, { keys: string[]; newest: number }>();
  for await (const o of repo.storage.list("points/")) {
    const dir = o.key.slice(0, o.key.lastIndexOf("/") + 1);
    if (committedDirs.has(dir)) continue;
    const entry = orphanDirs.get(dir) ?? { keys: [], newest: 0 };
    entry.keys.push(o.key);
    entry.newest = Math.max(entry.newest, o.mtimeMs);
    orphanDirs.set(dir, entry);
  }
  for (const [, { keys, newest }] of orphanDirs) {
    if (newest >= cutoff || keys.some((k) => k.endsWith("/manifest"))) continue;
    incomplete++;
    if (!options.dryRun) for (const k of keys) await repo.storage.delete(k);
  }
  if (!options.dryRun) await repo.storage.flush();

  // Temporary files of writers that hold no lock any more and wrote nothing since the cutoff.
  const liveOwners = new Set(
    (await listLocks(repo.storage)).map(({ key }) => key.slice("locks/".length, -".json".length)),
  );
  const tempOwners = new Map<string, number>();
  for await (const o of repo.storage.list("tmp/")) {
    const owner = o.key.split("/")[1] ?? "";
    tempOwners.set(owner, Math.max(tempOwners.get(owner) ?? 0, o.mtimeMs));
  }
  const deadOwners = [...tempOwners]
    .filter(([owner, newest]) => !liveOwners.has(owner) && newest < cutoff)
    .map(([o]) => o);
  const tempRemoved =
    options.dryRun || deadOwners.length === 0 ? 0 : await repo.storage.cleanTemporary(deadOwners);

  return {
    pointsMarked: refs.length,
    chunksInUse: marked.size,
    chunksSeen: seen,
    chunksRemoved: removed,
    bytesRemoved: bytes,
    chunksSpared: spared,
    cutoff: new Date(cutoff).toISOString(),
    incompletePointsRemoved: incomplete,
    temporaryFilesRemoved: tempRemoved,
  };
}
