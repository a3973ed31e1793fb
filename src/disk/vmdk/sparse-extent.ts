/**
 * A hosted sparse extent (monolithicSparse, streamOptimized, twoGbMaxExtentSparse pieces) read through
 * its grain directory and grain tables. Compressed grains (streamOptimized) are inflated with zlib.
 */
import { promisify } from "node:util";
import { inflate as inflateCb } from "node:zlib";
import type { ByteSource, DiskSource, Extent } from "../../domain/ports.js";
import { u32, u64big } from "../bytes.js";
import { diskError, throwIfAborted } from "../errors.js";
import { ExtentList, forEachUnit, intersectExtents, unionExtents } from "../extents.js";
import {
  decodeSparseHeader,
  FLAG_COMPRESSED,
  gdEntries,
  MARKER_FOOTER,
  SECTOR,
  type SparseHeader,
} from "./sparse-header.js";

const inflate = promisify(inflateCb);

export class SparseExtent {
  readonly header: SparseHeader;
  /** Bytes covered by the extent (its header's capacity). */
  readonly capacity: number;
  readonly #source: ByteSource;
  readonly #path: string;
  readonly #gd: Uint32Array;
  readonly #tables = new Map<number, Uint32Array>();
  readonly #grainBytes: number;
  readonly #compressed: boolean;
  /** The last inflated grain: reads of a few KiB in a row hit the same 64 KiB grain. */
  #lastGrain: { index: number; bytes: Uint8Array } | undefined;

  private constructor(source: ByteSource, path: string, header: SparseHeader, gd: Uint32Array) {
    this.#source = source;
    this.#path = path;
    this.header = header;
    this.capacity = header.capacity * SECTOR;
    this.#gd = gd;
    this.#grainBytes = header.grainSize * SECTOR;
    this.#compressed = (header.flags & FLAG_COMPRESSED) !== 0;
  }

  static async open(source: ByteSource, path: string, signal?: AbortSignal): Promise<SparseExtent> {
    let header = decodeSparseHeader(await source.read(0, SECTOR, signal), path);
    if (header.gdOffset === undefined) header = await readFooter(source, path, signal);
    const gdOffset = header.gdOffset as number;
    const count = gdEntries(header);
    const gdBytes = await source.read(gdOffset * SECTOR, count * 4, signal);
    if (gdBytes.length < count * 4) {
      throw invalid(path, `grain directory of ${count} entries at sector ${gdOffset} runs past the file end`);
    }
    const gd = new Uint32Array(count);
    for (let i = 0; i < count; i++) {
      const gt = u32(gdBytes, i * 4);
      if (gt !== 0 && (gt * SECTOR + header.numGTEsPerGT * 4 > source.size || gt === 1)) {
        throw invalid(path, `grain directory entry ${i} points at sector ${gt}, outside the file`);
      }
      gd[i] = gt;
    }
    return new SparseExtent(source, path, header, gd);
  }

  /** Grain table entries of directory entry `index` (all zero when the table is absent). */
  async #table(index: number, signal?: AbortSignal): Promise<Uint32Array> {
    const cached = this.#tables.get(index);
    if (cached !== undefined) return cached;
    const n = this.header.numGTEsPerGT;
    const table = new Uint32Array(n);
    const sector = this.#gd[index] ?? 0;
    if (sector !== 0) {
      const bytes = await this.#source.read(sector * SECTOR, n * 4, signal);
      for (let i = 0; i < n; i++) table[i] = u32(bytes, i * 4);
    }
    this.#tables.set(index, table);
    return table;
  }

  /** Sector of grain `grain`: 0 unallocated, 1 zeroed grain, else the grain's (or its marker's) sector. */
  async grainEntry(grain: number, signal?: AbortSignal): Promise<number> {
    const n = this.header.numGTEsPerGT;
    const table = await this.#table(Math.floor(grain / n), signal);
    return table[grain % n] ?? 0;
  }

  /**
   * Reads `out.length` bytes at `offset` of the extent; unallocated grains come from `parent`
   * (a delta's parent) or read as zeros.
   */
  async read(
    out: Uint8Array,
    offset: number,
    signal?: AbortSignal,
    parent?: DiskSource,
    parentOffset = 0,
  ): Promise<void> {
    await forEachUnit(offset, out.length, this.#grainBytes, async (grain, inGrain, piece, done) => {
      throwIfAborted(signal, `Reading VMDK "${this.#path}"`);
      const part = out.subarray(done, done + piece);
      const entry = await this.grainEntry(grain, signal);
      if (entry === 0 && parent !== undefined) {
        const got = await parent.read(part, parentOffset + offset + done, signal);
        part.fill(0, got);
      } else if (entry <= 1) {
        part.fill(0);
      } else if (this.#compressed) {
        const bytes = await this.#inflateGrain(grain, entry, signal);
        part.set(bytes.subarray(inGrain, inGrain + piece));
        if (bytes.length < inGrain + piece) part.fill(0, Math.max(0, bytes.length - inGrain));
      } else {
        const at = entry * SECTOR + inGrain;
        const got = await this.#source.read(at, piece, signal);
        if (got.length < piece && at + got.length < Math.min(this.capacity, (grain + 1) * this.#grainBytes)) {
          throw invalid(this.#path, `grain ${grain} at sector ${entry} runs past the file end`);
        }
        part.set(got);
        part.fill(0, got.length);
      }
    });
  }

  async #inflateGrain(grain: number, sector: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (this.#lastGrain?.index === grain) return this.#lastGrain.bytes;
    const at = sector * SECTOR;
    let bytes = await this.#source.read(at, 12 + this.#grainBytes + 1024, signal);
    if (bytes.length < 12) throw grainError(this.#path, grain, `marker at ${at} runs past the file end`);
    const lba = u64big(bytes, 0);
    const size = u32(bytes, 8);
    if (lba !== BigInt(grain) * BigInt(this.header.grainSize)) {
      throw grainError(
        this.#path,
        grain,
        `marker at ${at} names sector ${lba}, expected ${grain * this.header.grainSize}`,
      );
    }
    if (size === 0 || size > 2 * this.#grainBytes + 1024)
      throw grainError(this.#path, grain, `compressed size ${size} is implausible`);
    if (bytes.length < 12 + size) bytes = await this.#source.read(at, 12 + size, signal);
    if (bytes.length < 12 + size)
      throw grainError(this.#path, grain, `compressed data runs past the file end`);
    let inflated: Uint8Array;
    try {
      inflated = await inflate(bytes.subarray(12, 12 + size), { maxOutputLength: this.#grainBytes });
    } catch (err) {
      throw grainError(this.#path, grain, `does not inflate: ${(err as Error).message}`, err);
    }
    this.#lastGrain = { index: grain, bytes: inflated };
    return inflated;
  }

  /** Extents of this extent (relative to its start) whose grains are allocated. */
  async allocated(signal?: AbortSignal, parentMap?: readonly Extent[]): Promise<Extent[]> {
    const own = new ExtentList();
    const holes = new ExtentList();
    const grains = Math.ceil(this.capacity / this.#grainBytes);
    for (let grain = 0; grain < grains; grain++) {
      throwIfAborted(signal, `Mapping VMDK "${this.#path}"`);
      const start = grain * this.#grainBytes;
      const length = Math.min(this.#grainBytes, this.capacity - start);
      const entry = await this.grainEntry(grain, signal);
      if (entry > 1) own.add(start, length);
      else if (entry === 0) holes.add(start, length);
    }
    if (parentMap === undefined) return [...own.toArray()];
    return unionExtents(own.toArray(), intersectExtents(holes.toArray(), parentMap));
  }

  close(): Promise<void> {
    return this.#source.close();
  }
}

/** streamOptimized: the footer (a copy of the header with the real gdOffset) sits before the EOS marker. */
async function readFooter(source: ByteSource, path: string, signal?: AbortSignal): Promise<SparseHeader> {
  if (source.size < 4 * SECTOR) throw invalid(path, "grain directory at the end but the file has no footer");
  const tail = await source.read(source.size - 3 * SECTOR, 3 * SECTOR, signal);
  if (u32(tail, 12) !== MARKER_FOOTER || u32(tail, 8) !== 0) {
    throw invalid(path, "grain directory at the end but no footer marker before the end-of-stream marker");
  }
  const footer = decodeSparseHeader(tail.subarray(SECTOR, 2 * SECTOR), path);
  if (footer.gdOffset === undefined) throw invalid(path, "footer has no grain directory offset");
  return footer;
}

function invalid(path: string, message: string): Error {
  return diskError("VMDK_SPARSE_INVALID", `Invalid sparse VMDK "${path}": ${message}`, { path });
}

function grainError(path: string, grain: number, message: string, cause?: unknown): Error {
  return diskError(
    "VMDK_GRAIN_INVALID",
    `Compressed grain ${grain} of "${path}": ${message}`,
    { path, grain },
    cause,
  );
}
