import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { checkChunkBlob, openIndexBlob, openManifestBlob } from "./arrival.js";
import { checkScheme } from "./compat.js";
import { repoError } from "./errors.js";
import { checkSegment } from "./ids.js";
import type { DiskIndex } from "./index-format.js";
import { Limiter } from "./limiter.js";
import { LocalStorage } from "./local-storage.js";
import type { Manifest } from "./manifest.js";
import { checkCompleteness } from "./orphans.js";
import { admitMachine } from "./origins.js";
import { runPool } from "./pool.js";
import { sealRenamed } from "./rename.js";
import { keys, type PointRef, type Repository } from "./repository.js";
import { loadIncoming, saveIncoming } from "./replication-state.js";
import { checkVolumeSet, parseSeedVolume, SEED_MANIFEST, type SeedVolume } from "./seed-format.js";

export interface SeedConsumeOptions {
  /** Machines were replicated under this prefix: import the seed's points under it too. */
  readonly prefix?: string;
  readonly signal?: AbortSignal;
  readonly now?: () => Date;
}

export interface SeedConsumeReport {
  readonly seedId: string;
  readonly sourceId: string;
  readonly pointsImported: number;
  readonly pointsPresent: number;
  readonly chunksImported: number;
  readonly chunksPresent: number;
  readonly bytesImported: number;
  /** Points that were orphaned in the target before and are complete now. */
  readonly orphansRepaired: readonly PointRef[];
}

interface Volume {
  readonly where: string;
  readonly volume: SeedVolume;
}

/** Reads each directory's volume manifest; a directory without one is an unfinished or foreign volume. */
export async function readSeedVolumes(dirs: readonly string[]): Promise<Volume[]> {
  const out: Volume[] = [];
  for (const dir of dirs) {
    const where = resolve(dir);
    let bytes: Buffer;
    try {
      bytes = await readFile(join(where, SEED_MANIFEST));
    } catch (err) {
      throw repoError(
        "SEED_INCOMPLETE",
        `${where} is not a finished seed volume (no ${SEED_MANIFEST}: its export was interrupted, or it is not a seed)`,
        { cause: err, details: { where } },
      );
    }
    out.push({ where, volume: parseSeedVolume(bytes, where) });
  }
  return checkVolumeSet(out);
}

/** One file of a volume, checked against the size and digest its volume manifest lists. */
async function readListed(v: Volume, file: SeedVolume["files"][number]): Promise<Buffer> {
  const blob = await new LocalStorage(v.where).get(file.key);
  const fail = (seen: string) =>
    repoError(
      "SEED_CORRUPT",
      `Seed volume ${v.volume.volume} (${v.where}): ${file.key} ${seen}; the volume is truncated or damaged, copy it again from the source`,
      { details: { volume: v.volume.volume, key: file.key } },
    );
  if (!blob) throw fail("is missing");
  if (blob.length !== file.size) throw fail(`has ${blob.length} bytes where ${file.size} were written`);
  if (createHash("sha256").update(blob).digest("hex") !== file.sha256)
    throw fail("does not match its digest");
  return blob;
}

const isChunk = (key: string) => key.startsWith("chunks/");

/**
 * Imports a seed drive into `target`: chunks first (each file checked against its digest, then
 * opened with the target's keys), then the indexes and manifests of the points the target lacks,
 * manifests last; orphans whose chunks came with the seed become restorable. A failure part-way
 * leaves only unreferenced chunks (for gc) and no half point. The caller holds a `backup` lock.
 */
export async function consumeSeed(
  target: Repository,
  dirs: readonly string[],
  options: SeedConsumeOptions = {},
): Promise<SeedConsumeReport> {
  const now = options.now ?? (() => new Date());
  const volumes = await readSeedVolumes(dirs);
  const head = volumes[0]!.volume;
  if (head.source.id === target.config.id) {
    throw repoError(
      "SAME_REPOSITORY",
      `Seed ${head.seedId} was made from this repository (${target.config.id}): consume it in the target`,
    );
  }
  checkScheme(
    head.source,
    target,
    `Seed ${head.seedId} (from repository ${head.source.id})`,
    target.config.id,
  );
  const prefix = options.prefix ?? "";
  const renamed = (ref: { machineId: string; pointId: string }): PointRef => ({
    machineId: checkSegment("machine id", `${prefix}${ref.machineId}`),
    pointId: ref.pointId,
  });
  for (const p of head.points) {
    checkSegment("machine id", p.machineId);
    checkSegment("point id", p.pointId);
  }
  const machines = [...new Set(head.points.map((p) => p.machineId))];
  for (const m of machines) {
    const home = head.origins[m] ?? { home: head.source.id, homeMachine: m };
    await admitMachine(target, `${prefix}${m}`, { ...home, via: head.source.id, now: now() });
  }
  const existingRefs = (await target.listPoints()).filter((r) =>
    machines.some((m) => `${prefix}${m}` === r.machineId),
  );
  const before = await checkCompleteness(
    target,
    existingRefs,
    options.signal ? { signal: options.signal } : {},
  );

  const from = `seed ${head.seedId}`;
  const verify = new Limiter(2);
  let chunksImported = 0;
  let chunksPresent = 0;
  let bytes = 0;
  for (const v of volumes) {
    await runPool(
      v.volume.files.filter((f) => isChunk(f.key)),
      4,
      0,
      async (file) => {
        options.signal?.throwIfAborted();
        const hex = file.key.slice(file.key.lastIndexOf("/") + 1);
        if (await target.storage.touch(file.key)) {
          chunksPresent++;
          return;
        }
        const blob = await readListed(v, file);
        await verify.run(() => checkChunkBlob(target, hex, blob, from));
        if (await target.storage.putIfAbsent(file.key, blob, options.signal)) {
          chunksImported++;
          bytes += blob.length;
        } else chunksPresent++;
      },
    );
  }
  await target.storage.flush();

  // Points: manifests and indexes may sit in any volume.
  const located = new Map<string, { v: Volume; file: SeedVolume["files"][number] }>();
  for (const v of volumes)
    for (const file of v.volume.files) if (!isChunk(file.key)) located.set(file.key, { v, file });
  let imported = 0;
  let present = 0;
  for (const p of head.points) {
    options.signal?.throwIfAborted();
    const to = renamed(p);
    if (await target.storage.stat(keys.manifest(to))) {
      present++;
      continue;
    }
    const where = located.get(keys.manifest(p));
    if (!where)
      throw repoError(
        "SEED_CORRUPT",
        `Seed ${head.seedId} lists point ${p.pointId} but holds no manifest for it`,
      );
    const manifestBlob = await readListed(where.v, where.file);
    const manifest: Manifest = await openManifestBlob(target, p, keys.manifest(p), manifestBlob, from);
    const indexes: { disk: string; blob: Buffer; index: DiskIndex }[] = [];
    for (const d of manifest.disks) {
      const at = located.get(keys.index(p, d.key));
      if (!at)
        throw repoError(
          "SEED_CORRUPT",
          `Seed ${head.seedId} holds no index for disk ${d.key} of point ${p.pointId}`,
        );
      const blob = await readListed(at.v, at.file);
      const index: DiskIndex = await openIndexBlob(target, manifest, d.key, keys.index(p, d.key), blob, from);
      indexes.push({ disk: d.key, blob, index });
    }
    if (to.machineId !== p.machineId) {
      const sealed = await sealRenamed(target, manifest, indexes, to, prefix);
      for (const s of sealed.indexes) await target.storage.putIfAbsent(s.key, s.blob);
      await target.storage.flush();
      await target.storage.putIfAbsent(sealed.manifest.key, sealed.manifest.blob);
    } else {
      for (const ix of indexes) await target.storage.putIfAbsent(keys.index(to, ix.disk), ix.blob);
      await target.storage.flush();
      await target.storage.putIfAbsent(keys.manifest(to), manifestBlob);
    }
    await target.storage.flush();
    imported++;
  }

  const after = await checkCompleteness(
    target,
    existingRefs,
    options.signal ? { signal: options.signal } : {},
  );
  const repaired = after.filter((a, i) => a.missing === 0 && (before[i]?.missing ?? 0) > 0).map((a) => a.ref);

  const incoming = await loadIncoming(target.storage, head.source.id);
  await saveIncoming(target.storage, {
    format: 1,
    source: incoming?.source ?? { id: head.source.id, location: "" },
    lastAt: now().toISOString(),
    seed: { state: "consumed", seedId: head.seedId },
    machines: [...new Set([...(incoming?.machines ?? []), ...machines.map((m) => `${prefix}${m}`)])].sort(),
    orphans: incoming?.orphans ?? [],
  });
  return {
    seedId: head.seedId,
    sourceId: head.source.id,
    pointsImported: imported,
    pointsPresent: present,
    chunksImported,
    chunksPresent,
    bytesImported: bytes,
    orphansRepaired: repaired,
  };
}
