import { constants as fsConstants } from "node:fs";
import * as fs from "node:fs/promises";
import type { Writable } from "node:stream";
import { isSnapvisorError } from "../domain/errors.js";
import { CHUNK_BLOB_OVERHEAD } from "./blob.js";
import { DirectIo } from "./direct-io.js";
import { repoError } from "./errors.js";
import { Limiter } from "./limiter.js";
import { runLanes } from "./pool.js";
import { laneBuffers } from "./slab.js";
import { ZERO_ID, type DiskIndex } from "./index-format.js";
import { keys, type PointRef, type Repository } from "./repository.js";

export interface RestoreOptions {
  readonly signal?: AbortSignal;
  /** Chunks fetched and decoded at once. */
  readonly concurrency?: number;
  readonly onProgress?: (p: { bytesDone: number; bytesTotal: number }) => void;
  /** Write the image with direct I/O where the file system takes it (default true). */
  readonly directIo?: boolean;
}

export interface RestoreResult {
  readonly capacity: number;
  readonly chunksRestored: number;
  readonly zeroChunks: number;
}

/**
 * The chunks of `index` that the store lacks (slots' chunks and delta packs, and the bases deltas
 * lie over); a point with any is orphaned and not restorable. Ids are visited in order without
 * collecting them (a TiB disk has a million).
 */
export async function missingChunks(
  repo: Repository,
  index: DiskIndex,
  signal?: AbortSignal,
): Promise<string[]> {
  const missing = new Set<string>();
  const ids = namedIds(index);
  const worker = async (): Promise<void> => {
    // The workers share one iterator: each id is looked up by one of them.
    for (let next = ids.next(); !next.done; next = ids.next()) {
      signal?.throwIfAborted();
      const hex = next.value.toString("hex");
      if (!missing.has(hex) && !(await repo.storage.stat(keys.chunk(hex)))) missing.add(hex);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return [...missing].sort();
}

/** The ids an index names, in order: empty slots and zero bases skipped, a run of equal ids once. */
function* namedIds(index: DiskIndex): Generator<Buffer> {
  for (const ids of index.idBuffers())
    for (let off = 0; off < ids.length; off += 32) {
      const id = ids.subarray(off, off + 32);
      if (id.equals(ZERO_ID) || (off > 0 && id.equals(ids.subarray(off - 32, off)))) continue;
      yield id;
    }
}

/** The index of a disk of a point, refused (POINT_ORPHANED) when chunks are missing. */
export async function loadChecked(repo: Repository, ref: PointRef, diskKey: string, signal?: AbortSignal) {
  const index = await repo.readIndex(await repo.readManifest(ref), diskKey);
  await checkComplete(repo, ref, index, signal);
  return index;
}

/** Refuses (POINT_ORPHANED) a point whose index names chunks the store lacks. */
async function checkComplete(repo: Repository, ref: PointRef, index: DiskIndex, signal?: AbortSignal) {
  const missing = await missingChunks(repo, index, signal);
  if (missing.length > 0) {
    throw repoError(
      "POINT_ORPHANED",
      `Point ${ref.pointId} of machine ${ref.machineId} is orphaned: ${missing.length} of its chunks are not in this repository (first: ${missing[0]}). ` +
        `Supply them by consuming a seed drive ("snapvisor seed consume") or replicating from a repository that has them, then restore again`,
      { details: { ...ref, missing: missing.length, sample: missing.slice(0, 10) } },
    );
  }
}

/**
 * Restores a disk to a file: truncated to the capacity first, so all-zero slots stay holes, then
 * chunks are fetched, checked against their ids and written at their offsets in parallel, with
 * direct I/O where the file system takes it (direct-io.ts), then fsynced.
 *
 * The orphan check (a look-up of every distinct chunk, see `missingChunks`) runs beside the first
 * chunks' reads instead of before them; the output is opened (created, truncated) only once it has
 * passed, so a point that cannot be restored leaves an existing file as it was.
 */
export async function restoreToFile(
  repo: Repository,
  ref: PointRef,
  diskKey: string,
  path: string,
  options: RestoreOptions = {},
): Promise<RestoreResult> {
  const manifest = await repo.readManifest(ref);
  // A large disk starts the workers while its index is read and checked (a small one needs none).
  repo.warmChunkWorkers(manifest.disks.find((d) => d.key === diskKey)?.capacity);
  const index = await repo.readIndex(manifest, diskKey);
  const checked = checkComplete(repo, ref, index, options.signal);
  const output = checked.then(() => openOutput(path, index.capacity, options.directIo ?? true));
  // Either may settle while no lane is waiting on it (a lane failed first).
  checked.catch(() => {});
  output.catch(() => {});
  let done = 0;
  let restored = 0;
  let dataCount = 0;
  let total = 0;
  for (const s of dataSlots(index)) {
    dataCount++;
    total += index.slotLength(s);
  }
  try {
    const lanes = options.concurrency ?? repo.inFlight("read");
    // Buffered writes to one file take its inode lock: in parallel they spin on it (15% of a
    // restore's CPU here), so lanes fetch and open chunks in parallel and take turns to write.
    // Direct writes wait for the device instead: a few at once keep it busy.
    let writes: Limiter | undefined;
    const buffers = laneBuffers(Math.min(lanes, dataCount), index.chunkSize + CHUNK_BLOB_OVERHEAD);
    await runLanes(dataSlots(index), buffers, async (slot, lane) => {
      options.signal?.throwIfAborted();
      const {
        plain,
        lane: back,
        data,
      } = await repo.readSlotIn(index, slot, lane, options.signal).catch(async (err: unknown) => {
        // A chunk found missing before the check ended: the check's fuller answer wins.
        if (isSnapvisorError(err, "CHUNK_MISSING")) await checked;
        throw err;
      });
      checkLength(plain, index, slot, ref);
      const at = slot * index.chunkSize;
      const out = await output;
      writes ??= new Limiter(out.direct ? 4 : 1);
      // The file is new and sized already: what a slot is known not to hold stays a hole.
      await writes.run(async () => {
        for (const range of data ?? [{ start: 0, length: plain.length }]) {
          const part = plain.subarray(range.start, range.start + range.length);
          const pages = out.direct ? await out.io.writePages(out.direct, part, at + range.start) : 0;
          await writeFully(out.fh, part.subarray(pages), at + range.start + pages);
        }
      });
      done += plain.length;
      restored++;
      options.onProgress?.({ bytesDone: done, bytesTotal: total });
      return back;
    });
    await (await output).fh.sync();
    return { capacity: index.capacity, chunksRestored: restored, zeroChunks: index.count - dataCount };
  } finally {
    await checked.catch(() => {});
    await (await output.catch(() => undefined))?.close();
  }
}

interface Output {
  readonly fh: fs.FileHandle;
  /** The same file opened with O_DIRECT, when the file system takes it. */
  readonly direct: fs.FileHandle | undefined;
  readonly io: DirectIo;
  close(): Promise<void>;
}

/** Creates (or truncates) the image file at its capacity, and opens it for direct writes too. */
async function openOutput(path: string, capacity: number, directIo: boolean): Promise<Output> {
  const fh = await fs.open(path, "w");
  const io = new DirectIo(directIo);
  let direct: fs.FileHandle | undefined;
  try {
    direct = await io.open(path, fsConstants.O_WRONLY);
    await fh.truncate(capacity);
  } catch (err) {
    await direct?.close().catch(() => {});
    await fh.close().catch(() => {});
    throw err;
  }
  return {
    fh,
    direct,
    io,
    async close() {
      await direct?.close();
      await fh.close();
    },
  };
}

/**
 * Restores a disk to a stream (stdout) in order: up to `concurrency` chunks are fetched ahead while
 * earlier ones are written, and zero slots are written as zeros.
 */
export async function restoreToStream(
  repo: Repository,
  ref: PointRef,
  diskKey: string,
  out: Writable,
  options: RestoreOptions = {},
): Promise<RestoreResult> {
  const index = await loadChecked(repo, ref, diskKey, options.signal);
  const ahead = options.concurrency ?? repo.inFlight("read");
  const fetches = new Map<number, Promise<Buffer>>();
  const start = (slot: number): void => {
    if (slot < index.count && !index.isZero(slot))
      fetches.set(slot, repo.getSlot(index, slot, options.signal));
  };
  for (let s = 0; s < Math.min(ahead, index.count); s++) start(s);
  let restored = 0;
  let done = 0;
  try {
    for (let slot = 0; slot < index.count; slot++) {
      options.signal?.throwIfAborted();
      const pending = fetches.get(slot);
      fetches.delete(slot);
      start(slot + ahead);
      let data: Buffer;
      if (pending) {
        data = await pending;
        checkLength(data, index, slot, ref);
        restored++;
      } else data = Buffer.alloc(index.slotLength(slot));
      done += data.length;
      if (!out.write(data)) await drained(out);
      options.onProgress?.({ bytesDone: done, bytesTotal: index.capacity });
    }
  } finally {
    // Settle fetches started ahead so none rejects unobserved.
    await Promise.allSettled(fetches.values());
  }
  return { capacity: index.capacity, chunksRestored: restored, zeroChunks: index.count - restored };
}

/** Waits for `out` to take more, or fails when it was closed or broke (a reader that went away). */
function drained(out: Writable): Promise<void> {
  if (out.destroyed || out.writableEnded) return Promise.reject(outputClosed());
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error): void => {
      out.off("drain", onDrain).off("close", onClose).off("error", done);
      if (err) reject(outputClosed(err));
      else resolve();
    };
    const onDrain = (): void => done();
    const onClose = (): void => done(new Error("closed"));
    out.once("drain", onDrain).once("close", onClose).once("error", done);
  });
}

function outputClosed(cause?: Error) {
  return repoError("STORAGE_IO", "The restore's output was closed before the whole disk was written", {
    cause,
  });
}

async function writeFully(fh: fs.FileHandle, data: Buffer, position: number): Promise<void> {
  for (let done = 0; done < data.length;) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

function* dataSlots(index: DiskIndex): Generator<number> {
  for (let s = 0; s < index.count; s++) if (!index.isZero(s)) yield s;
}

function checkLength(data: Buffer, index: DiskIndex, slot: number, ref: PointRef): void {
  if (data.length !== index.slotLength(slot)) {
    throw repoError(
      "CHUNK_CORRUPT",
      `Chunk ${index.id(slot).toString("hex")} of point ${ref.pointId} holds ${data.length} bytes where slot ${slot} needs ${index.slotLength(slot)}`,
    );
  }
}
