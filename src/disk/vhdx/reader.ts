/**
 * A VHDX (dynamic, fixed or differencing) as a DiskSource. The BAT is read once at open; sector
 * bitmaps of differencing disks are cached per chunk. Differencing disks read through their parent.
 */
import type { ByteSource, DiskSource, Extent } from "../../domain/ports.js";
import { diskError, throwIfAborted } from "../errors.js";
import { ExtentList, forEachUnit, intersectExtents, unionExtents } from "../extents.js";
import { readRanges } from "../read-ranges.js";
import { bitmapIndex, decodeBatEntry, payloadIndex, type BatEntry } from "./bat.js";
import {
  PAYLOAD_FULLY_PRESENT,
  PAYLOAD_NOT_PRESENT,
  PAYLOAD_PARTIALLY_PRESENT,
  PAYLOAD_UNDEFINED,
  PAYLOAD_UNMAPPED,
  PAYLOAD_UNMAPPED_V095,
  PAYLOAD_ZERO,
  SB_PRESENT,
  SECTOR_BITMAP_BLOCK_SIZE,
} from "./format.js";
import type { VhdxLayout } from "./layout.js";

export class VhdxDisk implements DiskSource {
  readonly layout: VhdxLayout;
  readonly capacity: number;
  readonly #source: ByteSource;
  readonly #parent: DiskSource | undefined;
  readonly #bitmaps = new Map<number, Uint8Array>();

  constructor(source: ByteSource, layout: VhdxLayout, parent?: DiskSource) {
    this.#source = source;
    this.layout = layout;
    this.capacity = layout.metadata.virtualDiskSize;
    this.#parent = parent;
    if (layout.metadata.hasParent && parent === undefined)
      throw new TypeError("differencing VHDX needs its parent");
  }

  get parent(): DiskSource | undefined {
    return this.#parent;
  }

  /** The BAT entry of payload block `block`. */
  blockEntry(block: number): BatEntry {
    return decodeBatEntry(this.layout.bat, payloadIndex(this.layout.geometry, block));
  }

  async read(target: Uint8Array, offset: number, signal?: AbortSignal): Promise<number> {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > this.capacity) {
      throw diskError(
        "DISK_OUT_OF_RANGE",
        `Read at ${offset} outside VHDX "${this.layout.path}" of ${this.capacity} bytes`,
        {
          path: this.layout.path,
          offset,
          capacity: this.capacity,
        },
      );
    }
    const length = Math.min(target.length, this.capacity - offset);
    const { blockSize } = this.layout.geometry;
    await forEachUnit(offset, length, blockSize, async (block, inBlock, piece, done) => {
      throwIfAborted(signal, `Reading VHDX "${this.layout.path}"`);
      await this.#readInBlock(block, inBlock, target.subarray(done, done + piece), signal);
    });
    return length;
  }

  async #readInBlock(block: number, inBlock: number, out: Uint8Array, signal?: AbortSignal): Promise<void> {
    const entry = this.blockEntry(block);
    const diskOffset = block * this.layout.geometry.blockSize + inBlock;
    switch (entry.state) {
      case PAYLOAD_FULLY_PRESENT:
        return this.#readFile(entry.fileOffset + inBlock, out, signal);
      case PAYLOAD_NOT_PRESENT:
        if (this.#parent !== undefined) return this.#readParent(out, diskOffset, signal);
        out.fill(0);
        return;
      case PAYLOAD_ZERO:
      case PAYLOAD_UNMAPPED:
      case PAYLOAD_UNMAPPED_V095:
      case PAYLOAD_UNDEFINED:
        out.fill(0);
        return;
      case PAYLOAD_PARTIALLY_PRESENT:
        if (this.#parent !== undefined) return this.#readPartial(block, entry, inBlock, out, signal);
    }
    throw diskError(
      "VHDX_BAT_INVALID",
      `VHDX "${this.layout.path}" block ${block} has invalid state ${entry.state}`,
      {
        path: this.layout.path,
        block,
        state: entry.state,
      },
    );
  }

  async #readPartial(
    block: number,
    entry: BatEntry,
    inBlock: number,
    out: Uint8Array,
    signal?: AbortSignal,
  ): Promise<void> {
    const bitmap = await this.bitmap(Math.floor(block / this.layout.geometry.chunkRatio), signal);
    const sector = this.layout.geometry.logicalSectorSize;
    const firstBit = (block % this.layout.geometry.chunkRatio) * this.layout.geometry.sectorsPerBlock;
    const blockStart = block * this.layout.geometry.blockSize;
    let pos = 0;
    while (pos < out.length) {
      const first = Math.floor((inBlock + pos) / sector);
      const present = bitSet(bitmap, firstBit + first);
      let next = first + 1;
      while (next * sector - inBlock < out.length && bitSet(bitmap, firstBit + next) === present) next++;
      const end = Math.min(out.length, next * sector - inBlock);
      const part = out.subarray(pos, end);
      if (present) await this.#readFile(entry.fileOffset + inBlock + pos, part, signal);
      else await this.#readParent(part, blockStart + inBlock + pos, signal);
      pos = end;
    }
  }

  /**
   * The sector bitmap of `chunk`, cached. Writers mutate the returned array in place when they set
   * bits, so the cache stays coherent with the file.
   */
  async bitmap(chunk: number, signal?: AbortSignal): Promise<Uint8Array> {
    const cached = this.#bitmaps.get(chunk);
    if (cached !== undefined) return cached;
    const entry = decodeBatEntry(this.layout.bat, bitmapIndex(this.layout.geometry, chunk));
    if (entry.state !== SB_PRESENT || entry.fileOffset === 0) {
      throw diskError(
        "VHDX_BAT_INVALID",
        `VHDX "${this.layout.path}" has partially present blocks in chunk ${chunk} but no sector bitmap (state ${entry.state})`,
        { path: this.layout.path, chunk, state: entry.state },
      );
    }
    const bitmap = new Uint8Array(SECTOR_BITMAP_BLOCK_SIZE);
    await this.#readFile(entry.fileOffset, bitmap, signal);
    this.#bitmaps.set(chunk, bitmap);
    return bitmap;
  }

  async #readFile(fileOffset: number, out: Uint8Array, signal?: AbortSignal): Promise<void> {
    const got = await this.#source.read(fileOffset, out.length, signal);
    out.set(got);
    // Bytes past the end of the file read as zeros (checkBat makes this the tail of the last block).
    if (got.length < out.length) out.fill(0, got.length);
  }

  async #readParent(out: Uint8Array, diskOffset: number, signal?: AbortSignal): Promise<void> {
    const parent = this.#parent as DiskSource;
    const got = await parent.read(out, diskOffset, signal);
    if (got < out.length) out.fill(0, got);
  }

  /**
   * The sector bits of every partially present block (bit s = sector s of the block). Chunks already
   * cached are sliced; the others are fetched as per-block slices in batched reads, so mapping a
   * differencing disk over SFTP reads kilobytes per block rather than a 1 MiB bitmap per chunk.
   */
  async #blockBitmaps(signal?: AbortSignal): Promise<Map<number, Uint8Array>> {
    const g = this.layout.geometry;
    const out = new Map<number, Uint8Array>();
    if (this.#parent === undefined) return out;
    const sliceBytes = g.sectorsPerBlock / 8;
    const wanted: { block: number; offset: number }[] = [];
    for (let block = 0; block < g.dataBlocks; block++) {
      if (this.blockEntry(block).state !== PAYLOAD_PARTIALLY_PRESENT) continue;
      const chunk = Math.floor(block / g.chunkRatio);
      const inChunk = (block % g.chunkRatio) * sliceBytes;
      const cached = this.#bitmaps.get(chunk);
      if (cached !== undefined) {
        out.set(block, cached.subarray(inChunk, inChunk + sliceBytes));
        continue;
      }
      const entry = decodeBatEntry(this.layout.bat, bitmapIndex(g, chunk));
      if (entry.state !== SB_PRESENT || entry.fileOffset === 0) await this.bitmap(chunk, signal); // throws the coded error
      wanted.push({ block, offset: entry.fileOffset + inChunk });
    }
    const got = await readRanges(
      this.#source,
      wanted.map((w) => ({ offset: w.offset, length: sliceBytes })),
      { signal },
    );
    for (const w of wanted) {
      const bits = new Uint8Array(sliceBytes);
      bits.set(got.get(w.offset) ?? new Uint8Array(0));
      out.set(w.block, bits);
    }
    return out;
  }

  /**
   * Areas this file itself defines (not its parent's): data in payload blocks and present sectors,
   * and, for differencing disks, blocks defined as zeros that hide the parent's data. Merges use it.
   */
  async ownExtents(
    signal?: AbortSignal,
  ): Promise<{ readonly data: readonly Extent[]; readonly zero: readonly Extent[] }> {
    const { geometry } = this.layout;
    const bitmaps = await this.#blockBitmaps(signal);
    const data = new ExtentList();
    const zero = new ExtentList();
    for (let block = 0; block < geometry.dataBlocks; block++) {
      throwIfAborted(signal, `Mapping VHDX "${this.layout.path}"`);
      const start = block * geometry.blockSize;
      const length = Math.min(geometry.blockSize, this.capacity - start);
      const { state } = this.blockEntry(block);
      if (state === PAYLOAD_FULLY_PRESENT) data.add(start, length);
      else if (state === PAYLOAD_PARTIALLY_PRESENT && this.#parent !== undefined) {
        const bits = bitmaps.get(block) as Uint8Array;
        for (let s = 0; s * geometry.logicalSectorSize < length; s++) {
          const at = start + s * geometry.logicalSectorSize;
          if (bitSet(bits, s)) data.add(at, Math.min(geometry.logicalSectorSize, this.capacity - at));
        }
      } else if (state !== PAYLOAD_NOT_PRESENT && this.#parent !== undefined) zero.add(start, length);
    }
    return { data: data.toArray(), zero: zero.toArray() };
  }

  async allocated(signal?: AbortSignal): Promise<readonly Extent[]> {
    const { geometry } = this.layout;
    const bitmaps = await this.#blockBitmaps(signal);
    const own = new ExtentList();
    // Blocks whose parent data shows through, as extents; intersected with the parent's map below.
    const throughParent = new ExtentList();
    for (let block = 0; block < geometry.dataBlocks; block++) {
      throwIfAborted(signal, `Mapping VHDX "${this.layout.path}"`);
      const start = block * geometry.blockSize;
      const length = Math.min(geometry.blockSize, this.capacity - start);
      const { state } = this.blockEntry(block);
      if (state === PAYLOAD_FULLY_PRESENT) own.add(start, length);
      else if (this.#parent !== undefined && state === PAYLOAD_NOT_PRESENT) throughParent.add(start, length);
      else if (this.#parent !== undefined && state === PAYLOAD_PARTIALLY_PRESENT) {
        const bits = bitmaps.get(block) as Uint8Array;
        const sectors = Math.ceil(length / geometry.logicalSectorSize);
        for (let s = 0; s < sectors; s++) {
          const at = start + s * geometry.logicalSectorSize;
          const len = Math.min(geometry.logicalSectorSize, this.capacity - at);
          if (bitSet(bits, s)) own.add(at, len);
          else throughParent.add(at, len);
        }
      }
    }
    if (this.#parent === undefined) return own.toArray();
    const parentMap =
      this.#parent.allocated !== undefined
        ? await this.#parent.allocated(signal)
        : [{ start: 0, length: this.capacity }];
    return unionExtents(own.toArray(), intersectExtents(throughParent.toArray(), parentMap));
  }

  async close(): Promise<void> {
    try {
      await this.#source.close();
    } finally {
      await this.#parent?.close();
    }
  }
}

export function bitSet(bitmap: Uint8Array, bit: number): boolean {
  return (((bitmap[bit >>> 3] ?? 0) >>> (bit & 7)) & 1) === 1;
}
