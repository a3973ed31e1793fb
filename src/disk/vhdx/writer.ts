/**
 * Writable VHDX files (dynamic, fixed, differencing) for the Hyper-V simulator and for exports.
 * Writes allocate payload blocks at the end of the file (1 MiB aligned), then update the BAT entry
 * in place: data first, sector bitmap next, BAT last, so a crash leaves a block unallocated rather
 * than pointing at garbage. The log is never used (LogGuid stays zero), so the file can be reopened
 * and written again at any time.
 */
import { posix } from "node:path";
import type { ByteSource, DiskSource, Extent } from "../../domain/ports.js";
import { alignUp, isAllZero, putU64 } from "../bytes.js";
import { diskError, throwIfAborted } from "../errors.js";
import { forEachUnit } from "../extents.js";
import { RandomAccessFile } from "../file-source.js";
import type { OpenImageOptions } from "../image-options.js";
import { bitmapIndex, decodeBatEntry, encodeBatEntry, payloadIndex } from "./bat.js";
import {
  HEADER_OFFSETS,
  HEADER_SIZE,
  MiB,
  PAYLOAD_FULLY_PRESENT,
  PAYLOAD_NOT_PRESENT,
  PAYLOAD_PARTIALLY_PRESENT,
  SB_PRESENT,
  SECTOR_BITMAP_BLOCK_SIZE,
} from "./format.js";
import { decodeHeader, encodeHeader, type VhdxHeader } from "./header.js";
import { readVhdxLayout, type VhdxLayout } from "./layout.js";
import { openVhdxParent } from "./open.js";
import { bitSet, VhdxDisk } from "./reader.js";
import { newGuid } from "./create.js";

/** A ByteSource view of a file being written: its size follows the writes. */
function liveSource(file: RandomAccessFile): ByteSource {
  return {
    get size() {
      return file.size;
    },
    read: (offset, length) => file.read(offset, length),
    close: () => file.close(),
  };
}

/** An open VHDX that can be read and written. Writes and reads are serialized. */
export class VhdxWriter implements DiskSource {
  readonly path: string;
  readonly capacity: number;
  readonly #file: RandomAccessFile;
  readonly #disk: VhdxDisk;
  #header: VhdxHeader;
  /** Index in HEADER_OFFSETS of the current header; updates go to the other slot. */
  #headerSlot: number;
  #dataGuidChanged = false;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(file: RandomAccessFile, disk: VhdxDisk, headerSlot: number) {
    this.#headerSlot = headerSlot;
    this.path = file.path;
    this.#file = file;
    this.#disk = disk;
    this.capacity = disk.capacity;
    this.#header = disk.layout.header;
  }

  /** Opens a file for writing; rewrites its header with a new FileWriteGuid (MS-VHDX 2.2.2.1). */
  static async open(path: string, options: OpenImageOptions = {}): Promise<VhdxWriter> {
    const file = await RandomAccessFile.open(path, "update");
    let disk: VhdxDisk;
    try {
      const layout = await readVhdxLayout(liveSource(file), path, options.signal);
      const parent = layout.metadata.hasParent ? await openVhdxParent(layout, options) : undefined;
      disk = new VhdxDisk(liveSource(file), layout, parent);
    } catch (err) {
      await file.close();
      throw err;
    }
    const first = decodeHeader(await file.read(HEADER_OFFSETS[0], HEADER_SIZE));
    const slot = !("invalid" in first) && first.sequenceNumber === disk.layout.header.sequenceNumber ? 0 : 1;
    const writer = new VhdxWriter(file, disk, slot);
    try {
      await writer.#writeHeader({ fileWriteGuid: newGuid() });
    } catch (err) {
      await disk.close().catch(() => undefined);
      throw err;
    }
    return writer;
  }

  get layout(): VhdxLayout {
    return this.#disk.layout;
  }

  /** The DataWriteGuid children name as `parent_linkage`; it changes on the first write of a session. */
  get dataWriteGuid(): string {
    return this.#header.dataWriteGuid;
  }

  read(target: Uint8Array, offset: number, signal?: AbortSignal): Promise<number> {
    return this.#serialize(() => this.#disk.read(target, offset, signal));
  }

  allocated(signal?: AbortSignal): Promise<readonly Extent[]> {
    return this.#serialize(() => this.#disk.allocated(signal));
  }

  /** Writes `data` at virtual offset `offset`, allocating blocks as needed. */
  write(data: Uint8Array, offset: number, signal?: AbortSignal): Promise<void> {
    return this.#serialize(async () => {
      if (!Number.isSafeInteger(offset) || offset < 0 || offset + data.length > this.capacity) {
        throw diskError(
          "DISK_OUT_OF_RANGE",
          `Write of ${data.length} bytes at ${offset} outside VHDX "${this.path}" of ${this.capacity} bytes`,
          {
            path: this.path,
            offset,
            length: data.length,
            capacity: this.capacity,
          },
        );
      }
      if (data.length === 0) return;
      if (!this.#dataGuidChanged) {
        await this.#writeHeader({ dataWriteGuid: newGuid() });
        this.#dataGuidChanged = true;
      }
      await forEachUnit(
        offset,
        data.length,
        this.layout.geometry.blockSize,
        async (block, inBlock, piece, done) => {
          throwIfAborted(signal, `Writing VHDX "${this.path}"`);
          await this.#writeInBlock(block, inBlock, data.subarray(done, done + piece), signal);
        },
      );
    });
  }

  async #writeInBlock(block: number, inBlock: number, data: Uint8Array, signal?: AbortSignal): Promise<void> {
    const entry = this.#disk.blockEntry(block);
    if (entry.state === PAYLOAD_FULLY_PRESENT) return this.#file.write(data, entry.fileOffset + inBlock);
    const hasParent = this.#disk.parent !== undefined;
    if (!hasParent || (entry.state !== PAYLOAD_NOT_PRESENT && entry.state !== PAYLOAD_PARTIALLY_PRESENT)) {
      // Base disk, or a block whose contents are defined as zeros: a fresh zero-filled block.
      if (isAllZero(data)) return;
      const fileOffset = await this.#allocate(this.layout.geometry.blockSize);
      await this.#file.write(data, fileOffset + inBlock);
      return this.#setEntry(payloadIndex(this.layout.geometry, block), PAYLOAD_FULLY_PRESENT, fileOffset);
    }
    await this.#writePartial(block, inBlock, data, signal);
  }

  /** Differencing disk: writes whole sectors into the block and marks them in the sector bitmap. */
  async #writePartial(block: number, inBlock: number, data: Uint8Array, signal?: AbortSignal): Promise<void> {
    const g = this.layout.geometry;
    const sector = g.logicalSectorSize;
    const first = Math.floor(inBlock / sector);
    const end = Math.ceil((inBlock + data.length) / sector);
    const blockStart = block * g.blockSize;
    // Partial sectors at either end keep the bytes they show now (child or parent).
    const span = new Uint8Array((end - first) * sector);
    if (inBlock % sector !== 0 || (inBlock + data.length) % sector !== 0) {
      const readable = Math.min(span.length, this.capacity - (blockStart + first * sector));
      await this.#disk.read(span.subarray(0, readable), blockStart + first * sector, signal);
    }
    span.set(data, inBlock - first * sector);

    const chunk = Math.floor(block / g.chunkRatio);
    const sbIndex = bitmapIndex(g, chunk);
    if (decodeBatEntry(this.layout.bat, sbIndex).state !== SB_PRESENT) {
      const sbOffset = await this.#allocate(SECTOR_BITMAP_BLOCK_SIZE);
      await this.#setEntry(sbIndex, SB_PRESENT, sbOffset);
    }
    let entry = this.#disk.blockEntry(block);
    if (entry.state === PAYLOAD_NOT_PRESENT) {
      const fileOffset = await this.#allocate(g.blockSize);
      entry = { state: PAYLOAD_PARTIALLY_PRESENT, fileOffset };
    }
    await this.#file.write(span, entry.fileOffset + first * sector);

    const bitmap = await this.#disk.bitmap(chunk, signal);
    const firstBit = (block % g.chunkRatio) * g.sectorsPerBlock;
    for (let s = first; s < end; s++) {
      const bit = firstBit + s;
      bitmap[bit >>> 3] = (bitmap[bit >>> 3] ?? 0) | (1 << (bit & 7));
    }
    const byteStart = (firstBit + first) >>> 3;
    const byteEnd = ((firstBit + end - 1) >>> 3) + 1;
    const sbOffset = decodeBatEntry(this.layout.bat, sbIndex).fileOffset;
    await this.#file.write(bitmap.subarray(byteStart, byteEnd), sbOffset + byteStart);

    const sectorsInBlock = Math.ceil(Math.min(g.blockSize, this.capacity - blockStart) / sector);
    let full = true;
    for (let s = 0; s < sectorsInBlock && full; s++) full = bitSet(bitmap, firstBit + s);
    await this.#setEntry(
      payloadIndex(g, block),
      full ? PAYLOAD_FULLY_PRESENT : PAYLOAD_PARTIALLY_PRESENT,
      entry.fileOffset,
    );
  }

  /** Appends a zero-filled area of `length` bytes at the next 1 MiB boundary; returns its offset. */
  async #allocate(length: number): Promise<number> {
    const offset = alignUp(this.#file.size, MiB);
    await this.#file.truncate(offset + length);
    return offset;
  }

  async #setEntry(index: number, state: number, fileOffset: number): Promise<void> {
    const bytes = new Uint8Array(8);
    putU64(bytes, 0, encodeBatEntry({ state, fileOffset }));
    await this.#file.write(bytes, this.layout.regions.bat.fileOffset + index * 8);
    this.layout.bat.set(bytes, index * 8);
  }

  /** Writes the next header into the older slot: the higher sequence number makes it current. */
  async #writeHeader(change: Partial<Pick<VhdxHeader, "fileWriteGuid" | "dataWriteGuid">>): Promise<void> {
    const next: VhdxHeader = { ...this.#header, ...change, sequenceNumber: this.#header.sequenceNumber + 1n };
    const slot = 1 - this.#headerSlot;
    await this.#file.write(encodeHeader(next), HEADER_OFFSETS[slot] ?? 0);
    await this.#file.sync();
    this.#header = next;
    this.#headerSlot = slot;
  }

  /** Makes everything written so far durable. */
  flush(): Promise<void> {
    return this.#serialize(() => this.#file.sync());
  }

  async close(): Promise<void> {
    await this.#serialize(async () => {
      await this.#file.sync();
      await this.#disk.close();
    });
  }

  #serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}

export function relativeParentPath(childPath: string, parentPath: string): string {
  const rel = posix.relative(posix.dirname(posix.resolve(childPath)), posix.resolve(parentPath));
  const win = rel.replaceAll("/", "\\");
  return win.startsWith("..") ? win : `.\\${win}`;
}
