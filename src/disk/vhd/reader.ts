/**
 * A VHD (v1) as a DiskSource: fixed (raw data before the footer), dynamic (BAT of blocks, each a
 * sector bitmap then data) and differencing (bitmap bit set: sector in this file, clear: parent; the
 * bits are MSB first, unlike VHDX).
 */
import type { ByteSource, DiskSource, Extent } from "../../domain/ports.js";
import { diskError, throwIfAborted } from "../errors.js";
import { ExtentList, forEachUnit, intersectExtents, unionExtents } from "../extents.js";
import { BAT_UNUSED, VHD_FIXED, type VhdDynamicHeader, type VhdFooter } from "./format.js";

export interface VhdLayout {
  readonly path: string;
  readonly footer: VhdFooter;
  readonly capacity: number;
  readonly dynamic?: {
    readonly header: VhdDynamicHeader;
    readonly bat: Uint32Array;
    readonly bitmapBytes: number;
  };
}

export class VhdDisk implements DiskSource {
  readonly layout: VhdLayout;
  readonly capacity: number;
  readonly #source: ByteSource;
  readonly #parent: DiskSource | undefined;
  readonly #bitmaps = new Map<number, Uint8Array>();

  constructor(source: ByteSource, layout: VhdLayout, parent?: DiskSource) {
    this.#source = source;
    this.layout = layout;
    this.capacity = layout.capacity;
    this.#parent = parent;
  }

  get parent(): DiskSource | undefined {
    return this.#parent;
  }

  async read(target: Uint8Array, offset: number, signal?: AbortSignal): Promise<number> {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > this.capacity) {
      throw diskError(
        "DISK_OUT_OF_RANGE",
        `Read at ${offset} outside VHD "${this.layout.path}" of ${this.capacity} bytes`,
        {
          path: this.layout.path,
          offset,
        },
      );
    }
    const length = Math.min(target.length, this.capacity - offset);
    const dynamic = this.layout.dynamic;
    if (this.layout.footer.diskType === VHD_FIXED || dynamic === undefined) {
      await this.#readFile(offset, target.subarray(0, length), signal);
      return length;
    }
    const { blockSize } = dynamic.header;
    await forEachUnit(offset, length, blockSize, async (block, inBlock, piece, done) => {
      throwIfAborted(signal, `Reading VHD "${this.layout.path}"`);
      const out = target.subarray(done, done + piece);
      const sector = dynamic.bat[block] ?? BAT_UNUSED;
      if (sector === BAT_UNUSED) {
        if (this.#parent !== undefined) await this.#readParent(out, offset + done, signal);
        else out.fill(0);
        return;
      }
      const data = sector * 512 + dynamic.bitmapBytes;
      if (this.#parent === undefined) return this.#readFile(data + inBlock, out, signal);
      const bitmap = await this.#bitmap(block, sector, signal);
      let pos = 0;
      while (pos < piece) {
        const first = Math.floor((inBlock + pos) / 512);
        const present = bitSet(bitmap, first);
        let next = first + 1;
        while (next * 512 - inBlock < piece && bitSet(bitmap, next) === present) next++;
        const end = Math.min(piece, next * 512 - inBlock);
        const part = out.subarray(pos, end);
        if (present) await this.#readFile(data + inBlock + pos, part, signal);
        else await this.#readParent(part, offset + done + pos, signal);
        pos = end;
      }
    });
    return length;
  }

  async #bitmap(block: number, sector: number, signal?: AbortSignal): Promise<Uint8Array> {
    const cached = this.#bitmaps.get(block);
    if (cached !== undefined) return cached;
    const bitmap = await this.#source.read(sector * 512, this.layout.dynamic?.bitmapBytes ?? 0, signal);
    this.#bitmaps.set(block, bitmap);
    return bitmap;
  }

  async #readFile(at: number, out: Uint8Array, signal?: AbortSignal): Promise<void> {
    const got = await this.#source.read(at, out.length, signal);
    if (got.length < out.length) {
      throw diskError("VHD_INVALID", `VHD "${this.layout.path}" ends before byte ${at + out.length}`, {
        path: this.layout.path,
      });
    }
    out.set(got);
  }

  async #readParent(out: Uint8Array, offset: number, signal?: AbortSignal): Promise<void> {
    const got = await (this.#parent as DiskSource).read(out, offset, signal);
    out.fill(0, got);
  }

  async allocated(signal?: AbortSignal): Promise<readonly Extent[]> {
    const dynamic = this.layout.dynamic;
    if (dynamic === undefined) return [{ start: 0, length: this.capacity }];
    const own = new ExtentList();
    const holes = new ExtentList();
    const { blockSize } = dynamic.header;
    for (let block = 0; block * blockSize < this.capacity; block++) {
      throwIfAborted(signal, `Mapping VHD "${this.layout.path}"`);
      const start = block * blockSize;
      const length = Math.min(blockSize, this.capacity - start);
      const sector = dynamic.bat[block] ?? BAT_UNUSED;
      if (sector === BAT_UNUSED) holes.add(start, length);
      else if (this.#parent === undefined) own.add(start, length);
      else {
        const bitmap = await this.#bitmap(block, sector, signal);
        for (let s = 0; s * 512 < length; s++)
          (bitSet(bitmap, s) ? own : holes).add(start + s * 512, Math.min(512, length - s * 512));
      }
    }
    if (this.#parent === undefined) return own.toArray();
    const parentMap = (await this.#parent.allocated?.(signal)) ?? [{ start: 0, length: this.capacity }];
    return unionExtents(own.toArray(), intersectExtents(holes.toArray(), parentMap));
  }

  async close(): Promise<void> {
    try {
      await this.#source.close();
    } finally {
      await this.#parent?.close();
    }
  }
}

function bitSet(bitmap: Uint8Array, sector: number): boolean {
  return ((bitmap[sector >>> 3] ?? 0) & (0x80 >>> (sector & 7))) !== 0;
}
