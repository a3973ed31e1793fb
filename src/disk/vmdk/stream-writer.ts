/**
 * Writes a streamOptimized VMDK front to back (the format of OVAs and of vSphere imports): header,
 * descriptor, deflated grains each behind a grain marker, grain tables after their grains, then the
 * grain directory, the footer and the end-of-stream marker. Grains must come in ascending order.
 */
import { promisify } from "node:util";
import { deflate as deflateCb } from "node:zlib";
import { posix } from "node:path";
import { alignUp, putU32, putU64 } from "../bytes.js";
import { diskError } from "../errors.js";
import { RandomAccessFile } from "../file-source.js";
import { formatDescriptor } from "./descriptor.js";
import {
  COMPRESSION_DEFLATE,
  encodeMarker,
  encodeSparseHeader,
  FLAG_COMPRESSED,
  FLAG_MARKERS,
  FLAG_VALID_NEWLINE_TEST,
  MARKER_EOS,
  MARKER_FOOTER,
  MARKER_GD,
  MARKER_GT,
  SECTOR,
  type SparseHeader,
} from "./sparse-header.js";

const deflate = promisify(deflateCb);
export const DEFAULT_GRAIN_SECTORS = 128;
const GTES_PER_GT = 512;
const DESCRIPTOR_SECTORS = 20;

export class StreamOptimizedWriter {
  readonly capacity: number;
  readonly grainBytes: number;
  readonly #file: RandomAccessFile;
  readonly #header: SparseHeader;
  readonly #gd: Uint32Array;
  #table: Uint32Array | undefined;
  #tableIndex = -1;
  #at: number;
  #lastGrain = -1;

  private constructor(file: RandomAccessFile, header: SparseHeader, at: number) {
    this.#file = file;
    this.#header = header;
    this.capacity = header.capacity * SECTOR;
    this.grainBytes = header.grainSize * SECTOR;
    this.#gd = new Uint32Array(Math.ceil(header.capacity / header.grainSize / GTES_PER_GT));
    this.#at = at;
  }

  /** Creates `path` (which must not exist) for a disk of `capacity` bytes (a multiple of 512). */
  static async create(path: string, capacity: number): Promise<StreamOptimizedWriter> {
    if (!Number.isSafeInteger(capacity) || capacity <= 0 || capacity % SECTOR !== 0) {
      throw diskError(
        "DISK_WRITE_INVALID",
        `Cannot create VMDK "${path}": capacity ${capacity} is not a positive multiple of 512`,
        { path, capacity },
      );
    }
    const header: SparseHeader = {
      version: 3,
      flags: FLAG_VALID_NEWLINE_TEST | FLAG_COMPRESSED | FLAG_MARKERS,
      capacity: capacity / SECTOR,
      grainSize: DEFAULT_GRAIN_SECTORS,
      descriptorOffset: 1,
      descriptorSize: DESCRIPTOR_SECTORS,
      numGTEsPerGT: GTES_PER_GT,
      rgdOffset: 0,
      gdOffset: undefined,
      overHead: alignUp(1 + DESCRIPTOR_SECTORS, DEFAULT_GRAIN_SECTORS),
      uncleanShutdown: false,
      compressAlgorithm: COMPRESSION_DEFLATE,
    };
    const descriptor = Buffer.from(
      formatDescriptor({
        createType: "streamOptimized",
        extents: [
          { access: "RW", sectors: header.capacity, type: "SPARSE", file: posix.basename(path), offset: 0 },
        ],
        ddb: new Map([["ddb.toolsInstallType", "4"]]),
      }),
    );
    if (descriptor.length > DESCRIPTOR_SECTORS * SECTOR) throw new Error("descriptor too long");
    const file = await RandomAccessFile.open(path, "create");
    await file.write(encodeSparseHeader(header), 0);
    await file.write(descriptor, SECTOR);
    return new StreamOptimizedWriter(file, header, header.overHead * SECTOR);
  }

  /** Appends grain `grain` (its bytes; the last grain of the disk may be shorter). */
  async writeGrain(grain: number, data: Uint8Array): Promise<void> {
    if (
      grain <= this.#lastGrain ||
      grain * this.grainBytes >= this.capacity ||
      data.length > this.grainBytes
    ) {
      throw diskError(
        "DISK_WRITE_INVALID",
        `Grain ${grain} out of order or out of range (last ${this.#lastGrain})`,
        { grain },
      );
    }
    this.#lastGrain = grain;
    const tableIndex = Math.floor(grain / GTES_PER_GT);
    if (tableIndex !== this.#tableIndex) await this.#flushTable();
    this.#tableIndex = tableIndex;
    this.#table ??= new Uint32Array(GTES_PER_GT);
    const full = new Uint8Array(Math.min(this.grainBytes, this.capacity - grain * this.grainBytes));
    full.set(data);
    const compressed = await deflate(full);
    const record = new Uint8Array(alignUp(12 + compressed.length, SECTOR));
    putU64(record, 0, grain * this.#header.grainSize);
    putU32(record, 8, compressed.length);
    record.set(compressed, 12);
    this.#table[grain % GTES_PER_GT] = this.#at / SECTOR;
    await this.#append(record);
  }

  async #flushTable(): Promise<void> {
    if (this.#table === undefined) return;
    const bytes = new Uint8Array(GTES_PER_GT * 4);
    this.#table.forEach((v, i) => putU32(bytes, i * 4, v));
    await this.#append(encodeMarker(MARKER_GT, bytes.length / SECTOR));
    this.#gd[this.#tableIndex] = this.#at / SECTOR;
    await this.#append(bytes);
    this.#table = undefined;
  }

  async #append(bytes: Uint8Array): Promise<void> {
    await this.#file.write(bytes, this.#at);
    this.#at += bytes.length;
  }

  /** Writes the last grain table, the grain directory, the footer and the end-of-stream marker. */
  async finish(): Promise<void> {
    await this.#flushTable();
    const gd = new Uint8Array(alignUp(this.#gd.length * 4, SECTOR));
    this.#gd.forEach((v, i) => putU32(gd, i * 4, v));
    await this.#append(encodeMarker(MARKER_GD, gd.length / SECTOR));
    const gdOffset = this.#at / SECTOR;
    await this.#append(gd);
    await this.#append(encodeMarker(MARKER_FOOTER, 1));
    await this.#append(encodeSparseHeader({ ...this.#header, gdOffset }));
    await this.#append(encodeMarker(MARKER_EOS, 0));
    await this.#file.sync();
    await this.#file.close();
  }

  /** Closes without finishing (the file is incomplete; the caller deletes it). */
  async abort(): Promise<void> {
    await this.#file.close();
  }
}
