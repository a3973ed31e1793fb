import { createHash, randomUUID } from "node:crypto";
import { BlobCodec, BlobKind, CHUNK_BLOB_OVERHEAD } from "./blob.js";
import { chunkIdOf } from "./chunk-id.js";
import { ChunkOpenError, chunkWorkers, type SealedChunk } from "./chunk-workers.js";
import {
  DEFAULT_CHUNK_SIZE,
  FORMAT_NAME,
  FORMAT_VERSION,
  encodeRepoConfig,
  parseRepoConfig,
  type RepoConfig,
} from "./config.js";
import { repoError } from "./errors.js";
import { checkSegment } from "./ids.js";
import { DiskIndex } from "./index-format.js";
import { createEncryption, openEncryption, type RepoKeys } from "./keys.js";
import { manifestSchema, type Manifest } from "./manifest.js";
import { LanePool } from "./slab.js";
import { readSlotIn, type SlotRead } from "./slot-read.js";
import type { Storage } from "./storage.js";

export const CONFIG_KEY = "config.json";
/** Delta packs kept in memory by `getPack` (each at most a chunk). */
const PACKS_KEPT = 4;

export interface PointRef {
  readonly machineId: string;
  readonly pointId: string;
}

/** Where each object of a point lives; one place for the key layout. */
export const keys = {
  chunk: (hex: string) => `chunks/${hex.slice(0, 4)}/${hex}`,
  pointDir: (p: PointRef) => `points/${p.machineId}/${p.pointId}/`,
  manifest: (p: PointRef) => `points/${p.machineId}/${p.pointId}/manifest`,
  index: (p: PointRef, diskKey: string) => `points/${p.machineId}/${p.pointId}/disk-${diskKey}.index`,
} as const;

const CHUNK_KEY = /^chunks\/[0-9a-f]{4}\/([0-9a-f]{64})$/;
const MANIFEST_KEY = /^points\/([^/]+)\/([^/]+)\/manifest$/;

export function chunkIdFromKey(key: string): string | undefined {
  return CHUNK_KEY.exec(key)?.[1];
}

export interface InitOptions {
  readonly chunkSize?: number;
  readonly passphrase?: string;
  readonly compressionLevel?: number;
  readonly now?: Date;
  /**
   * Another repository's config to copy the chunk scheme from (chunk size, chunk ids, compression,
   * and the wrapped keys, which `passphrase` must open): a replication target or a sibling for seeds.
   */
  readonly like?: RepoConfig;
}

async function newEncryption(passphrase: string | undefined) {
  return passphrase === undefined ? null : createEncryption(passphrase);
}

/** The keys of `like`, unwrapped to prove the passphrase; the wrapped form is copied as is. */
async function likeEncryption(like: RepoConfig, passphrase: string | undefined) {
  if (!like.encryption) return null;
  if (passphrase === undefined)
    throw repoError("PASSPHRASE_REQUIRED", `Repository ${like.id} is encrypted: its passphrase is needed`);
  return { keys: await openEncryption(passphrase, like.encryption), config: like.encryption };
}

/**
 * A repository over a Storage: content-addressed chunks, recovery points (manifest + one complete
 * index per disk). Operations (backup, restore, verify, gc, prune) live in their own modules and use
 * this class for the object layout, codecs and keys.
 */
export class Repository {
  readonly storage: Storage;
  readonly config: RepoConfig;
  readonly codec: BlobCodec;
  readonly #idKey: Buffer | null;
  /** This repository's keys and compression level as registered with the chunk workers. */
  readonly #scheme: number;
  /** Lanes for `getChunk`, made on first use. */
  #lanes: LanePool | undefined;
  /** Delta packs read lately (getPack). */
  readonly #packs = new Map<string, Promise<Buffer>>();

  private constructor(storage: Storage, config: RepoConfig, repoKeys: RepoKeys | null) {
    this.storage = storage;
    this.config = config;
    this.codec = new BlobCodec(repoKeys, config.compression.level);
    this.#idKey = repoKeys?.idKey ?? null;
    this.#scheme = chunkWorkers().scheme(repoKeys, config.compression.level);
  }

  static async init(storage: Storage, options: InitOptions = {}): Promise<Repository> {
    const like = options.like;
    const chunkSize = like?.chunkSize ?? options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    const enc = like
      ? await likeEncryption(like, options.passphrase)
      : await newEncryption(options.passphrase);
    const config = parseRepoConfig(
      encodeRepoConfig({
        format: FORMAT_NAME,
        version: FORMAT_VERSION,
        id: randomUUID(),
        createdAt: (options.now ?? new Date()).toISOString(),
        chunkSize,
        chunkId: enc ? "hmac-sha256" : "sha256",
        compression: like?.compression ?? { name: "zstd", level: options.compressionLevel ?? 1 },
        encryption: enc?.config ?? null,
      }),
      "(new)",
    );
    const written = await storage.putIfAbsent(CONFIG_KEY, encodeRepoConfig(config));
    if (!written) throw repoError("REPO_EXISTS", "A repository already exists there");
    await storage.flush();
    return new Repository(storage, config, enc?.keys ?? null);
  }

  /** Opens an existing repository; `passphrase` is asked for only when the repository is encrypted. */
  static async open(
    storage: Storage,
    options: { passphrase?: () => Promise<string | undefined>; where?: string } = {},
  ): Promise<Repository> {
    const where = options.where ?? "";
    const bytes = await storage.get(CONFIG_KEY);
    if (!bytes)
      throw repoError(
        "NOT_A_REPOSITORY",
        `${where || "This"} is not a snapvisor repository (no ${CONFIG_KEY})`,
      );
    const config = parseRepoConfig(bytes, where);
    let repoKeys: RepoKeys | null = null;
    if (config.encryption) {
      const pass = await options.passphrase?.();
      if (pass === undefined) {
        throw repoError(
          "PASSPHRASE_REQUIRED",
          `Repository ${where} is encrypted: set SNAPVISOR_PASSPHRASE or run on a terminal to be asked`,
        );
      }
      repoKeys = await openEncryption(pass, config.encryption);
    }
    return new Repository(storage, config, repoKeys);
  }

  get chunkSize(): number {
    return this.config.chunkSize;
  }

  /**
   * Chunks to keep in flight for `purpose`: enough to hide I/O latency behind the CPU work, bounded
   * in bytes so memory does not grow with the chunk size (writes ~24 MiB, reads ~32 MiB).
   */
  inFlight(purpose: "write" | "read"): number {
    const budget = (purpose === "write" ? 24 : 32) * 1024 * 1024;
    return Math.min(16, Math.max(4, Math.floor(budget / this.chunkSize)));
  }

  /** SHA-256 of the plaintext, or HMAC-SHA256 under the id key so ids leak no plaintext hashes. */
  chunkId(data: Uint8Array): Buffer {
    return chunkIdOf(this.#idKey, data);
  }

  /** Starts the chunk workers ahead of the first chunk (see ChunkWorkers.warm). */
  warmChunkWorkers(expectedBytes?: number): void {
    chunkWorkers().warm(expectedBytes);
  }

  /**
   * Hashes, checks for zeros, compresses and seals the first `length` bytes of a lane (slab.ts) on
   * a worker thread; the lane comes back with the blob in it.
   */
  sealChunk(lane: Buffer, length: number): Promise<SealedChunk> {
    return chunkWorkers().sealIn(this.#scheme, lane, length);
  }

  /** Seals (on this thread) and stores a chunk unless present; returns stored bytes (0 when it was there). */
  async putChunk(id: Buffer, plain: Uint8Array, signal?: AbortSignal): Promise<number> {
    return this.putSealedChunk(id, await this.codec.seal(BlobKind.chunk, id.toString("hex"), plain), signal);
  }

  /** Stores a sealed chunk unless present; returns stored bytes (0 when it was already there). */
  async putSealedChunk(id: Buffer, parts: readonly Buffer[], signal?: AbortSignal): Promise<number> {
    return (await this.storage.putIfAbsent(keys.chunk(id.toString("hex")), parts, signal))
      ? parts.reduce((n, b) => n + b.length, 0)
      : 0;
  }

  /**
   * The chunk's plaintext (a buffer of its own), checked against its id. Throws CHUNK_MISSING or
   * CHUNK_CORRUPT. Read through a lane of the repository's pool (direct I/O, opened in place).
   */
  async getChunk(id: Buffer, signal?: AbortSignal): Promise<Buffer> {
    this.#lanes ??= new LanePool(this.inFlight("read"), this.chunkSize + CHUNK_BLOB_OVERHEAD);
    return this.#lanes.use(async (lane) => {
      const read = await this.readChunkIn(id, lane, signal);
      return { result: Buffer.from(read.plain), lane: read.lane };
    });
  }

  /**
   * `getChunk` through a lane (slab.ts; at least chunk size + CHUNK_BLOB_OVERHEAD bytes, taken
   * over until the call settles): the plaintext comes back as a view of the returned lane, to be
   * used before the lane's next read.
   */
  async readChunkIn(
    id: Buffer,
    lane: Buffer,
    signal?: AbortSignal,
  ): Promise<{ plain: Buffer; lane: Buffer }> {
    const hex = id.toString("hex");
    const length = await this.storage.getInto(keys.chunk(hex), lane, signal);
    if (length === undefined)
      throw repoError("CHUNK_MISSING", `Chunk ${hex} is missing from the repository`, {
        details: { chunk: hex },
      });
    return corruptAs(hex, undefined, chunkWorkers().openIn(this.#scheme, hex, lane, length));
  }

  /**
   * A delta pack's plaintext (delta.ts), shared by the slots it serves: the last few are kept, so
   * a restore reads each pack once, and concurrent readers of one pack wait for one read.
   */
  getPack(id: Buffer, signal?: AbortSignal): Promise<Buffer> {
    const hex = id.toString("hex");
    const cached = this.#packs.get(hex);
    if (cached) return cached;
    // Read without a lane: a lane is held while the pack is read, and waiting for another lane of
    // the pool could wait forever.
    const pending = this.storage.get(keys.chunk(hex), signal).then((blob) => {
      if (!blob)
        throw repoError("CHUNK_MISSING", `Chunk ${hex} is missing from the repository`, {
          details: { chunk: hex },
        });
      return this.openChunk(hex, blob);
    });
    this.#packs.set(hex, pending);
    pending.catch(() => this.#packs.delete(hex));
    if (this.#packs.size > PACKS_KEPT) this.#packs.delete(this.#packs.keys().next().value!);
    return pending;
  }

  /**
   * A non-zero slot's plaintext through a lane, as `readChunkIn`: a whole chunk, or a delta laid
   * over its base (slot-read.ts). Throws CHUNK_MISSING or CHUNK_CORRUPT.
   */
  readSlotIn(index: DiskIndex, slot: number, lane: Buffer, signal?: AbortSignal): Promise<SlotRead> {
    return readSlotIn(this, index, slot, lane, signal);
  }

  /** `readSlotIn` into a buffer of its own. */
  async getSlot(index: DiskIndex, slot: number, signal?: AbortSignal): Promise<Buffer> {
    this.#lanes ??= new LanePool(this.inFlight("read"), this.chunkSize + CHUNK_BLOB_OVERHEAD);
    return this.#lanes.use(async (lane) => {
      const read = await this.readSlotIn(index, slot, lane, signal);
      return { result: Buffer.from(read.plain), lane: read.lane };
    });
  }

  /**
   * Checks that the chunk blob in the first `length` bytes of `lane` (arriving `from` elsewhere)
   * opens with this repository's keys and hashes to `hex`, leaving it as it is; returns the lane.
   */
  checkChunkIn(hex: string, lane: Buffer, length: number, from: string): Promise<Buffer> {
    return corruptAs(hex, from, chunkWorkers().checkIn(this.#scheme, hex, lane, length));
  }

  /**
   * Opens a chunk blob (which the call takes over) on a worker thread and checks that its plaintext
   * hashes to `hex`; CHUNK_CORRUPT names `from` when the blob came from elsewhere.
   */
  openChunk(hex: string, blob: Buffer, from?: string): Promise<Buffer> {
    return corruptAs(hex, from, chunkWorkers().open(this.#scheme, hex, blob));
  }

  async listPoints(machineId?: string): Promise<PointRef[]> {
    const prefix = machineId === undefined ? "points/" : `points/${checkSegment("machine id", machineId)}/`;
    const out: PointRef[] = [];
    for await (const o of this.storage.list(prefix)) {
      const m = MANIFEST_KEY.exec(o.key);
      if (m) out.push({ machineId: m[1]!, pointId: m[2]! });
    }
    // Ids are ASCII: a plain comparison orders them as localeCompare would, without setting up
    // ICU's collator (~7 ms of every command's start).
    return out.sort((a, b) => ascii(a.pointId, b.pointId) || ascii(a.machineId, b.machineId));
  }

  async readManifest(ref: PointRef): Promise<Manifest> {
    const key = keys.manifest(ref);
    const blob = await this.storage.get(key);
    if (!blob)
      throw repoError(
        "POINT_NOT_FOUND",
        `Recovery point ${ref.pointId} of machine ${ref.machineId} does not exist`,
      );
    let json: unknown;
    try {
      json = JSON.parse((await this.codec.open(BlobKind.manifest, key, blob)).toString("utf8"));
    } catch (err) {
      throw repoError(
        "MANIFEST_CORRUPT",
        `Manifest of point ${ref.pointId} is corrupt: ${(err as Error).message}`,
        {
          cause: err,
          details: { ...ref },
        },
      );
    }
    const parsed = manifestSchema.safeParse(json);
    if (!parsed.success || parsed.data.id !== ref.pointId || parsed.data.machine.id !== ref.machineId) {
      throw repoError(
        "MANIFEST_CORRUPT",
        `Manifest of point ${ref.pointId} does not match the manifest schema`,
        {
          details: { ...ref, issues: parsed.error?.issues.slice(0, 3) },
        },
      );
    }
    return parsed.data;
  }

  async readIndex(manifest: Manifest, diskKey: string): Promise<DiskIndex> {
    const ref = { machineId: manifest.machine.id, pointId: manifest.id };
    if (!manifest.disks.some((d) => d.key === diskKey)) {
      const known = manifest.disks.map((d) => d.key).join(", ");
      throw repoError("DISK_NOT_FOUND", `Point ${manifest.id} has no disk "${diskKey}" (disks: ${known})`);
    }
    const key = keys.index(ref, diskKey);
    const blob = await this.storage.get(key);
    if (!blob) {
      throw repoError("INDEX_CORRUPT", `Index of disk ${diskKey} in point ${manifest.id} is missing`, {
        details: { ...ref, disk: diskKey },
      });
    }
    return this.decodeIndex(manifest, diskKey, key, blob);
  }

  /**
   * Opens an index blob stored (or arriving, `from` a source) under `key` and checks it is the one
   * `manifest` names for `diskKey`: digest, geometry, layout.
   */
  async decodeIndex(
    manifest: Manifest,
    diskKey: string,
    key: string,
    blob: Buffer,
    from?: string,
  ): Promise<DiskIndex> {
    const disk = manifest.disks.find((d) => d.key === diskKey);
    const fail = (why: string, cause?: unknown) =>
      repoError(
        "INDEX_CORRUPT",
        `Index of disk ${diskKey} in point ${manifest.id}${from ? ` from ${from}` : ""} is ${why}`,
        {
          cause,
          details: {
            machineId: manifest.machine.id,
            pointId: manifest.id,
            disk: diskKey,
            ...(from ? { from } : {}),
          },
        },
      );
    if (!disk) throw fail("not named by its manifest");
    let plain: Buffer;
    try {
      plain = await this.codec.open(BlobKind.index, key, blob);
    } catch (err) {
      throw fail(`corrupt: ${(err as Error).message}`, err);
    }
    if (createHash("sha256").update(plain).digest("hex") !== disk.index.sha256)
      throw fail("not the one the manifest names");
    try {
      const index = DiskIndex.decode(plain);
      if (index.capacity !== disk.capacity || index.chunkSize !== manifest.chunkSize)
        throw new RangeError("geometry mismatch");
      return index;
    } catch (err) {
      throw fail(`corrupt: ${(err as Error).message}`, err);
    }
  }

  /** Seals an index; returns its blob and the plaintext digest the manifest records. */
  async sealIndex(
    ref: PointRef,
    diskKey: string,
    index: DiskIndex,
  ): Promise<{ key: string; blob: Buffer[]; sha256: string }> {
    const plain = index.encode();
    const key = keys.index(ref, diskKey);
    return {
      key,
      blob: await this.codec.seal(BlobKind.index, key, plain),
      sha256: createHash("sha256").update(plain).digest("hex"),
    };
  }

  async sealManifest(manifest: Manifest): Promise<{ key: string; blob: Buffer[] }> {
    const key = keys.manifest({ machineId: manifest.machine.id, pointId: manifest.id });
    return {
      key,
      blob: await this.codec.seal(BlobKind.manifest, key, Buffer.from(JSON.stringify(manifest), "utf8")),
    };
  }

  /** Finds a point by id (or unique id prefix) across machines. */
  async findPoint(pointId: string): Promise<PointRef> {
    const all = await this.listPoints();
    const hits = all.filter((p) => p.pointId === pointId);
    const matches = hits.length > 0 ? hits : all.filter((p) => p.pointId.startsWith(pointId));
    if (matches.length === 1) return matches[0]!;
    if (matches.length === 0)
      throw repoError("POINT_NOT_FOUND", `No recovery point "${pointId}" in the repository`);
    throw repoError(
      "USAGE",
      `Point id "${pointId}" is ambiguous: ${matches.map((m) => m.pointId).join(", ")}`,
    );
  }

  /** The newest committed point of a machine, if any. */
  async latestPoint(machineId: string): Promise<PointRef | undefined> {
    const points = await this.listPoints(machineId);
    return points.at(-1);
  }
}

/** A chunk worker's refusal of a blob (ChunkOpenError) as CHUNK_CORRUPT naming the chunk and source. */
async function corruptAs<T>(hex: string, from: string | undefined, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (!(err instanceof ChunkOpenError)) throw err;
    throw repoError(
      "CHUNK_CORRUPT",
      `Chunk ${hex}${from ? ` from ${from}` : ""} is corrupt: ${err.message}`,
      {
        cause: err,
        details: { chunk: hex, ...(from ? { from } : {}) },
      },
    );
  }
}

function ascii(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
