/**
 * A hosted sparse extent ("KDMV": monolithicSparse, streamOptimized, twoGbMaxExtentSparse pieces)
 * read through its grain directory and grain tables. Compressed grains are inflated with zlib.
 */
import { promisify } from "node:util";
import { inflate as inflateCb } from "node:zlib";
import type { ByteSource } from "../../domain/ports.js";
import { u32, u64big } from "../bytes.js";
import { diskError } from "../errors.js";
import { readRanges } from "../read-ranges.js";
import { GRAIN_PARENT, GRAIN_ZERO, GrainExtent, type GrainLocation } from "./grain-extent.js";
import {
  decodeSparseHeader,
  FLAG_COMPRESSED,
  gdEntries,
  MARKER_EOS,
  MARKER_FOOTER,
  SECTOR,
  type SparseHeader,
} from "./sparse-header.js";

const inflate = promisify(inflateCb);

export class SparseExtent extends GrainExtent {
  readonly header: SparseHeader;
  readonly #gd: Uint32Array;
  readonly #tables = new Map<number, Uint32Array>();
  readonly #compressed: boolean;
  /** The last inflated grain: reads of a few KiB in a row hit the same 64 KiB grain. */
  #lastGrain: { index: number; bytes: Uint8Array } | undefined;

  private constructor(source: ByteSource, path: string, header: SparseHeader, gd: Uint32Array) {
    super(source, path, header.capacity * SECTOR, header.grainSize * SECTOR);
    this.header = header;
    this.#gd = gd;
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

  protected override get compressed(): boolean {
    return this.#compressed;
  }

  protected override async preloadTables(signal?: AbortSignal): Promise<void> {
    const bytes = this.header.numGTEsPerGT * 4;
    const wanted = [...this.#gd.entries()].filter(([i, s]) => s !== 0 && !this.#tables.has(i));
    const got = await readRanges(
      this.source,
      wanted.map(([, s]) => ({ offset: s * SECTOR, length: bytes })),
      { signal },
    );
    for (const [i, s] of wanted)
      this.#tables.set(i, decodeTable(got.get(s * SECTOR), this.header.numGTEsPerGT));
  }

  async #table(index: number, signal?: AbortSignal): Promise<Uint32Array> {
    const cached = this.#tables.get(index);
    if (cached !== undefined) return cached;
    const n = this.header.numGTEsPerGT;
    const sector = this.#gd[index] ?? 0;
    const table =
      sector === 0
        ? new Uint32Array(n)
        : decodeTable(await this.source.read(sector * SECTOR, n * 4, signal), n);
    this.#tables.set(index, table);
    return table;
  }

  /** 0 = not in this file, 1 = zeroed grain, else the sector of the grain (or of its marker). */
  async locate(grain: number, signal?: AbortSignal): Promise<GrainLocation> {
    const n = this.header.numGTEsPerGT;
    const entry = (await this.#table(Math.floor(grain / n), signal))[grain % n] ?? 0;
    if (entry === 0) return GRAIN_PARENT;
    if (entry === 1) return GRAIN_ZERO;
    return { kind: "data", offset: entry * SECTOR };
  }

  protected override async readCompressed(
    grain: number,
    at: number,
    signal?: AbortSignal,
  ): Promise<Uint8Array> {
    if (this.#lastGrain?.index === grain) return this.#lastGrain.bytes;
    let bytes = await this.source.read(at, 12 + this.grainBytes + 1024, signal);
    if (bytes.length < 12) throw grainError(this.path, grain, `marker at ${at} runs past the file end`);
    const lba = u64big(bytes, 0);
    const size = u32(bytes, 8);
    if (lba !== BigInt(grain) * BigInt(this.header.grainSize)) {
      throw grainError(
        this.path,
        grain,
        `marker at ${at} names sector ${lba}, expected ${grain * this.header.grainSize}`,
      );
    }
    if (size === 0 || size > 2 * this.grainBytes + 1024)
      throw grainError(this.path, grain, `compressed size ${size} is implausible`);
    if (bytes.length < 12 + size) bytes = await this.source.read(at, 12 + size, signal);
    if (bytes.length < 12 + size)
      throw grainError(this.path, grain, `compressed data runs past the file end`);
    let inflated: Uint8Array;
    try {
      inflated = await inflate(bytes.subarray(12, 12 + size), { maxOutputLength: this.grainBytes });
    } catch (err) {
      throw grainError(this.path, grain, `does not inflate: ${(err as Error).message}`, err);
    }
    this.#lastGrain = { index: grain, bytes: inflated };
    return inflated;
  }
}

function decodeTable(bytes: Uint8Array | undefined, entries: number): Uint32Array {
  const table = new Uint32Array(entries);
  if (bytes !== undefined)
    for (let i = 0; i < entries && i * 4 + 4 <= bytes.length; i++) table[i] = u32(bytes, i * 4);
  return table;
}

/** streamOptimized: the footer (a copy of the header with the real gdOffset) sits before the EOS marker. */
async function readFooter(source: ByteSource, path: string, signal?: AbortSignal): Promise<SparseHeader> {
  if (source.size < 4 * SECTOR) throw invalid(path, "grain directory at the end but the file has no footer");
  const tail = await source.read(source.size - 3 * SECTOR, 3 * SECTOR, signal);
  const eos = tail.subarray(2 * SECTOR);
  if (
    u32(tail, 12) !== MARKER_FOOTER ||
    u32(tail, 8) !== 0 ||
    u64big(eos, 0) !== 0n ||
    u32(eos, 12) !== MARKER_EOS
  ) {
    throw invalid(
      path,
      "grain directory at the end but no footer marker and end-of-stream marker at the file end",
    );
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
