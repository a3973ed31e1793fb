/**
 * Writes a monolithicSparse VMDK (hosted sparse extent with embedded descriptor, grain directory and
 * its redundant copy, pre-allocated grain tables). Grains are allocated at the end of the file on the
 * first non-zero write; the grain tables are written by `close()`.
 */
import { posix } from "node:path";
import { alignUp, isAllZero, putU32 } from "../bytes.js";
import { diskError } from "../errors.js";
import { forEachUnit } from "../extents.js";
import { RandomAccessFile } from "../file-source.js";
import { formatDescriptor } from "./descriptor.js";
import {
  encodeSparseHeader,
  FLAG_REDUNDANT_GD,
  FLAG_VALID_NEWLINE_TEST,
  SECTOR,
  type SparseHeader,
} from "./sparse-header.js";

const GRAIN_SECTORS = 128;
const GTES_PER_GT = 512;
const DESCRIPTOR_SECTORS = 20;

export class SparseVmdkWriter {
  readonly capacity: number;
  readonly #file: RandomAccessFile;
  readonly #grainBytes = GRAIN_SECTORS * SECTOR;
  /** Grain table entries of every grain (sector of the grain, 0 = unallocated). */
  readonly #gte: Uint32Array;
  readonly #gtSectors: readonly [number, number];
  #end: number;

  private constructor(file: RandomAccessFile, capacity: number, gtSectors: [number, number], end: number) {
    this.#file = file;
    this.capacity = capacity;
    this.#gte = new Uint32Array(Math.ceil(capacity / this.#grainBytes / GTES_PER_GT) * GTES_PER_GT);
    this.#gtSectors = gtSectors;
    this.#end = end;
  }

  static async create(path: string, capacity: number): Promise<SparseVmdkWriter> {
    if (!Number.isSafeInteger(capacity) || capacity <= 0 || capacity % SECTOR !== 0) {
      throw diskError(
        "DISK_WRITE_INVALID",
        `Cannot create VMDK "${path}": capacity ${capacity} is not a positive multiple of 512`,
        { path, capacity },
      );
    }
    const sectors = capacity / SECTOR;
    const gdEntries = Math.ceil(sectors / GRAIN_SECTORS / GTES_PER_GT);
    const gdSectors = Math.ceil((gdEntries * 4) / SECTOR);
    const gtSectorsEach = (GTES_PER_GT * 4) / SECTOR;
    const rgd = 1 + DESCRIPTOR_SECTORS;
    const rgt = rgd + gdSectors;
    const gd = rgt + gdEntries * gtSectorsEach;
    const gt = gd + gdSectors;
    const overHead = alignUp(gt + gdEntries * gtSectorsEach, GRAIN_SECTORS);
    const header: SparseHeader = {
      version: 1,
      flags: FLAG_VALID_NEWLINE_TEST | FLAG_REDUNDANT_GD,
      capacity: sectors,
      grainSize: GRAIN_SECTORS,
      descriptorOffset: 1,
      descriptorSize: DESCRIPTOR_SECTORS,
      numGTEsPerGT: GTES_PER_GT,
      rgdOffset: rgd,
      gdOffset: gd,
      overHead,
      uncleanShutdown: false,
      compressAlgorithm: 0,
    };
    const descriptor = formatDescriptor({
      createType: "monolithicSparse",
      extents: [{ access: "RW", sectors, type: "SPARSE", file: posix.basename(path), offset: 0 }],
    });
    const file = await RandomAccessFile.open(path, "create");
    await file.write(encodeSparseHeader(header), 0);
    await file.write(Buffer.from(descriptor), SECTOR);
    for (const [dir, tables] of [
      [rgd, rgt],
      [gd, gt],
    ] as const) {
      const bytes = new Uint8Array(gdSectors * SECTOR);
      for (let i = 0; i < gdEntries; i++) putU32(bytes, i * 4, tables + i * gtSectorsEach);
      await file.write(bytes, dir * SECTOR);
    }
    await file.truncate(overHead * SECTOR);
    return new SparseVmdkWriter(file, capacity, [rgt, gt], overHead * SECTOR);
  }

  /** Writes `data` at `offset`; zeros written into unallocated grains allocate nothing. */
  async write(data: Uint8Array, offset: number): Promise<void> {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + data.length > this.capacity) {
      throw diskError(
        "DISK_OUT_OF_RANGE",
        `Write of ${data.length} bytes at ${offset} outside the ${this.capacity}-byte VMDK`,
        { offset },
      );
    }
    await forEachUnit(offset, data.length, this.#grainBytes, async (grain, inGrain, piece, done) => {
      const part = data.subarray(done, done + piece);
      let sector = this.#gte[grain] ?? 0;
      if (sector === 0) {
        if (isAllZero(part)) return;
        sector = this.#end / SECTOR;
        this.#end += this.#grainBytes;
        await this.#file.truncate(this.#end);
        this.#gte[grain] = sector;
      }
      await this.#file.write(part, sector * SECTOR + inGrain);
    });
  }

  /** Writes both copies of the grain tables and closes the file. */
  async close(): Promise<void> {
    const bytes = new Uint8Array(this.#gte.length * 4);
    this.#gte.forEach((v, i) => putU32(bytes, i * 4, v));
    for (const at of this.#gtSectors) await this.#file.write(bytes, at * SECTOR);
    await this.#file.sync();
    await this.#file.close();
  }
}
