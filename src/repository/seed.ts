import { createHash, randomUUID } from "node:crypto";
import { mkdir, readdir } from "node:fs/promises";
import { encodeRepoConfig } from "./config.js";
import { chunkScheme } from "./compat.js";
import { DigestSet } from "./digest-set.js";
import { repoError } from "./errors.js";
import { Limiter } from "./limiter.js";
import { LocalStorage } from "./local-storage.js";
import { homeOf, type MachineHome } from "./origins.js";
import { runPool } from "./pool.js";
import { CONFIG_KEY, keys, type PointRef, type Repository } from "./repository.js";
import { SEED_FORMAT, SEED_MANIFEST, type SeedVolume } from "./seed-format.js";

export interface SeedExportOptions {
  readonly machines?: readonly string[];
  /** Bytes per volume; volumes are then `DIR.1`, `DIR.2`, ... (for removable media). */
  readonly maxSize?: number;
  readonly signal?: AbortSignal;
  readonly now?: Date;
}

export interface SeedExportReport {
  readonly seedId: string;
  readonly volumes: readonly string[];
  readonly points: number;
  readonly chunks: number;
  readonly bytes: number;
  /** Chunks the source itself lacks (its own orphans): the seed cannot carry them. */
  readonly chunksUnavailable: number;
}

type Header = Omit<SeedVolume, "volume" | "volumes" | "files">;

/** Fills volumes one after another; a volume is sealed by its `seed.json` once full. */
class VolumeWriter {
  readonly dirs: string[] = [];
  readonly #base: string;
  readonly #maxSize: number | undefined;
  readonly #header: Header;
  readonly #config: Uint8Array;
  #storage: LocalStorage | undefined;
  #files: SeedVolume["files"] = [];
  #used = 0;
  bytes = 0;

  constructor(base: string, maxSize: number | undefined, header: Header, config: Uint8Array) {
    this.#base = base;
    this.#maxSize = maxSize;
    this.#header = header;
    this.#config = config;
  }

  async put(key: string, blob: Buffer): Promise<void> {
    const limit = this.#maxSize ?? Infinity;
    if (blob.length + this.#config.length > limit) {
      throw repoError(
        "USAGE",
        `seed export: --max-size ${limit} is smaller than one object of the seed (${key}, ${blob.length} bytes)`,
      );
    }
    if (!this.#storage || this.#used + blob.length > limit) await this.#next();
    await this.#storage!.putIfAbsent(key, blob);
    this.#files.push({ key, size: blob.length, sha256: createHash("sha256").update(blob).digest("hex") });
    this.#used += blob.length;
    this.bytes += blob.length;
  }

  async #next(): Promise<void> {
    if (this.#storage) await this.#seal(false);
    const dir = this.#maxSize === undefined ? this.#base : `${this.#base}.${this.dirs.length + 1}`;
    await mkdir(dir, { recursive: true });
    if ((await readdir(dir)).length > 0) throw repoError("SEED_EXISTS", `seed export: ${dir} is not empty`);
    this.#storage = new LocalStorage(dir);
    await this.#storage.putIfAbsent(CONFIG_KEY, this.#config);
    this.dirs.push(dir);
    this.#files = [];
    this.#used = this.#config.length;
  }

  async #seal(last: boolean): Promise<void> {
    const storage = this.#storage!;
    await storage.flush();
    const volume: SeedVolume = {
      ...this.#header,
      volume: this.dirs.length,
      volumes: last ? this.dirs.length : null,
      files: this.#files,
    };
    await storage.putIfAbsent(SEED_MANIFEST, Buffer.from(JSON.stringify(volume, null, 1) + "\n"));
    await storage.flush();
    await storage.cleanTemporary();
  }

  async finish(): Promise<void> {
    if (!this.#storage) await this.#next();
    await this.#seal(true);
  }
}

/**
 * Writes the points of the selected machines (all by default) as a seed drive: every chunk they
 * reference, then their indexes, then their manifests, copied as stored (still compressed, still
 * encrypted). The caller holds a `read` lock on the source.
 */
export async function exportSeed(
  source: Repository,
  outDir: string,
  options: SeedExportOptions = {},
): Promise<SeedExportReport> {
  const selected = (await source.listPoints()).filter(
    (r) => !options.machines || options.machines.includes(r.machineId),
  );
  const unknown = (options.machines ?? []).filter((m) => !selected.some((r) => r.machineId === m));
  if (unknown.length > 0) {
    throw repoError(
      "POINT_NOT_FOUND",
      `seed export: no recovery points of machine ${unknown.join(", ")} in the repository`,
    );
  }
  const refs = await withReferenced(source, selected);
  if (refs.length === 0)
    throw repoError(
      "POINT_NOT_FOUND",
      `seed export: no recovery points${options.machines ? ` of ${options.machines.join(", ")}` : ""} in the repository`,
    );
  const origins: Record<string, MachineHome> = {};
  for (const m of new Set(refs.map((r) => r.machineId))) origins[m] = await homeOf(source, m);
  const seedId = randomUUID();
  const header: Header = {
    format: SEED_FORMAT,
    version: 1,
    seedId,
    createdAt: (options.now ?? new Date()).toISOString(),
    source: { id: source.config.id, ...chunkScheme(source) },
    origins,
    points: refs.map((r) => ({ machineId: r.machineId, pointId: r.pointId })),
  };
  const config = encodeRepoConfig({ ...source.config, id: seedId, createdAt: header.createdAt });
  const writer = new VolumeWriter(outDir, options.maxSize, header, config);

  const ids: Buffer[] = [];
  const seen = new DigestSet(1 << 12);
  const pointFiles: { ref: PointRef; keys: string[] }[] = [];
  for (const ref of refs) {
    const manifest = await source.readManifest(ref);
    const files: string[] = [];
    for (const d of manifest.disks) {
      const ix = await source.readIndex(manifest, d.key);
      for (const buf of ix.idBuffers())
        for (let off = 0; off < buf.length; off += 32) {
          const id = buf.subarray(off, off + 32);
          if (seen.add(id)) ids.push(id);
        }
      files.push(keys.index(ref, d.key));
    }
    pointFiles.push({ ref, keys: files });
  }

  // Reads in parallel, writes one at a time (volume accounting is sequential).
  const writes = new Limiter(1);
  let unavailable = 0;
  let chunks = 0;
  await runPool(ids, 4, 0, async (id) => {
    options.signal?.throwIfAborted();
    const key = keys.chunk(id.toString("hex"));
    const blob = await source.storage.get(key, options.signal);
    if (!blob) {
      unavailable++;
      return;
    }
    await writes.run(() => writer.put(key, blob));
    chunks++;
  });
  for (const { keys: files } of pointFiles)
    for (const key of files) await writer.put(key, await required(source, key));
  for (const { ref } of pointFiles)
    await writer.put(keys.manifest(ref), await required(source, keys.manifest(ref)));
  await writer.finish();
  return {
    seedId,
    volumes: writer.dirs,
    points: refs.length,
    chunks,
    bytes: writer.bytes,
    chunksUnavailable: unavailable,
  };
}

async function required(repo: Repository, key: string): Promise<Buffer> {
  const blob = await repo.storage.get(key);
  if (!blob)
    throw repoError("INDEX_CORRUPT", `seed export: ${key} vanished from the source during the export`);
  return blob;
}

/** Adds the points the selected ones reference (shared disks stored as another machine's point). */
async function withReferenced(repo: Repository, refs: readonly PointRef[]): Promise<PointRef[]> {
  const out = new Map(refs.map((r) => [`${r.machineId}/${r.pointId}`, r]));
  const queue = [...refs];
  for (let ref = queue.pop(); ref; ref = queue.pop()) {
    for (const r of (await repo.readManifest(ref)).references) {
      const key = `${r.machineId}/${r.pointId}`;
      if (out.has(key)) continue;
      const found: PointRef = { machineId: r.machineId, pointId: r.pointId };
      out.set(key, found);
      queue.push(found);
    }
  }
  return [...out.values()].sort(
    (a, b) => a.pointId.localeCompare(b.pointId) || a.machineId.localeCompare(b.machineId),
  );
}
