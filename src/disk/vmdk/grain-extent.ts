/**
 * Common read logic of the grain-mapped VMDK extents (hosted sparse, ESXi vmfsSparse and seSparse):
 * a subclass maps a grain to "parent", "zero" or "data at file offset"; reads coalesce runs of
 * grains that are contiguous in the file, and allocation maps come from the same lookups.
 */
import type { ByteSource, DiskSource, Extent } from "../../domain/ports.js";
import { diskError, throwIfAborted } from "../errors.js";
import { ExtentList, intersectExtents, unionExtents } from "../extents.js";

export type GrainLocation =
  | { readonly kind: "parent" }
  | { readonly kind: "zero" }
  | { readonly kind: "data"; readonly offset: number };

const PARENT: GrainLocation = { kind: "parent" };
const ZERO: GrainLocation = { kind: "zero" };
export const GRAIN_PARENT = PARENT;
export const GRAIN_ZERO = ZERO;

export abstract class GrainExtent {
  /** Bytes covered by the extent. */
  readonly capacity: number;
  readonly grainBytes: number;
  protected readonly source: ByteSource;
  protected readonly path: string;

  protected constructor(source: ByteSource, path: string, capacity: number, grainBytes: number) {
    this.source = source;
    this.path = path;
    this.capacity = capacity;
    this.grainBytes = grainBytes;
  }

  /** Where grain `grain` lives. */
  abstract locate(grain: number, signal?: AbortSignal): Promise<GrainLocation>;

  /** Compressed extents read grain by grain through `readCompressed`. */
  protected get compressed(): boolean {
    return false;
  }

  /** Loads every grain table in few large reads (allocated() would otherwise fetch them one by one). */
  protected async preloadTables(_signal?: AbortSignal): Promise<void> {}

  protected readCompressed(_grain: number, _location: number, _signal?: AbortSignal): Promise<Uint8Array> {
    throw new Error("not a compressed extent");
  }

  /**
   * Reads `out.length` bytes at `offset` of the extent; grains not in this file come from `parent`
   * (at `parentOffset + offset`) or read as zeros when there is no parent.
   */
  async read(
    out: Uint8Array,
    offset: number,
    signal?: AbortSignal,
    parent?: DiskSource,
    parentOffset = 0,
  ): Promise<void> {
    if (this.compressed) return this.#readCompressedRange(out, offset, signal, parent, parentOffset);
    let done = 0;
    while (done < out.length) {
      throwIfAborted(signal, `Reading VMDK "${this.path}"`);
      const pos = offset + done;
      const grain = Math.floor(pos / this.grainBytes);
      const inGrain = pos - grain * this.grainBytes;
      const where = await this.locate(grain, signal);
      // Extend the run while the next grains continue it (same kind, contiguous in the file).
      let end = Math.min(out.length, done + this.grainBytes - inGrain);
      for (let next = grain + 1; end < out.length; next++) {
        const n = await this.locate(next, signal);
        const continues =
          n.kind === where.kind &&
          (n.kind !== "data" ||
            (where.kind === "data" && n.offset === where.offset + (next - grain) * this.grainBytes));
        if (!continues) break;
        end = Math.min(out.length, end + this.grainBytes);
      }
      const part = out.subarray(done, end);
      if (where.kind === "parent" && parent !== undefined) {
        const got = await parent.read(part, parentOffset + pos, signal);
        part.fill(0, got);
      } else if (where.kind !== "data") {
        part.fill(0);
      } else {
        const at = where.offset + inGrain;
        const got = await this.source.read(at, part.length, signal);
        if (got.length < part.length && pos + got.length < this.capacity) {
          throw diskError(
            "VMDK_SPARSE_INVALID",
            `Grain ${grain} of "${this.path}" at byte ${where.offset} runs past the file end`,
            {
              path: this.path,
              grain,
            },
          );
        }
        part.set(got);
        part.fill(0, got.length);
      }
      done = end;
    }
  }

  /** Compressed grains are inflated on the thread pool: several at once keep it busy. */
  async #readCompressedRange(
    out: Uint8Array,
    offset: number,
    signal?: AbortSignal,
    parent?: DiskSource,
    parentOffset = 0,
  ): Promise<void> {
    if (out.length === 0) return;
    const first = Math.floor(offset / this.grainBytes);
    const last = Math.floor((offset + out.length - 1) / this.grainBytes);
    let next = first;
    const worker = async (): Promise<void> => {
      while (next <= last) {
        const grain = next++;
        throwIfAborted(signal, `Reading VMDK "${this.path}"`);
        const from = Math.max(offset, grain * this.grainBytes);
        const to = Math.min(offset + out.length, (grain + 1) * this.grainBytes);
        const part = out.subarray(from - offset, to - offset);
        const where = await this.locate(grain, signal);
        if (where.kind === "parent" && parent !== undefined) {
          part.fill(0, await parent.read(part, parentOffset + from, signal));
        } else if (where.kind !== "data") {
          part.fill(0);
        } else {
          const bytes = await this.readCompressed(grain, where.offset, signal);
          const inGrain = from - grain * this.grainBytes;
          part.set(bytes.subarray(inGrain, inGrain + part.length));
          if (bytes.length < inGrain + part.length) part.fill(0, Math.max(0, bytes.length - inGrain));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, last - first + 1) }, worker));
  }

  /** Extents (relative to the extent's start) that may hold data, the parent's shown areas included. */
  async allocated(signal?: AbortSignal, parentMap?: readonly Extent[]): Promise<Extent[]> {
    await this.preloadTables(signal);
    const own = new ExtentList();
    const holes = new ExtentList();
    const grains = Math.ceil(this.capacity / this.grainBytes);
    for (let grain = 0; grain < grains; grain++) {
      if (grain % 4096 === 0) throwIfAborted(signal, `Mapping VMDK "${this.path}"`);
      const start = grain * this.grainBytes;
      const length = Math.min(this.grainBytes, this.capacity - start);
      const where = await this.locate(grain, signal);
      if (where.kind === "data") own.add(start, length);
      else if (where.kind === "parent") holes.add(start, length);
    }
    if (parentMap === undefined) return [...own.toArray()];
    return unionExtents(own.toArray(), intersectExtents(holes.toArray(), parentMap));
  }

  close(): Promise<void> {
    return this.source.close();
  }
}
