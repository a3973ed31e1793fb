/** A VMDK as a DiskSource: the descriptor's extents (flat, zero, sparse) laid end to end. */
import type { ByteSource, DiskSource, Extent } from "../../domain/ports.js";
import { diskError, throwIfAborted } from "../errors.js";
import type { VmdkDescriptor } from "./descriptor.js";
import type { GrainExtent } from "./grain-extent.js";

export type OpenedExtent =
  | {
      readonly kind: "flat";
      readonly start: number;
      readonly length: number;
      readonly source: ByteSource;
      readonly fileOffset: number;
    }
  | { readonly kind: "zero"; readonly start: number; readonly length: number }
  | {
      readonly kind: "sparse";
      readonly start: number;
      readonly length: number;
      readonly sparse: GrainExtent;
    };

export class VmdkDisk implements DiskSource {
  readonly path: string;
  readonly descriptor: VmdkDescriptor;
  readonly capacity: number;
  readonly extents: readonly OpenedExtent[];
  readonly #parent: DiskSource | undefined;
  readonly #owned: readonly { close(): Promise<void> }[];

  constructor(
    path: string,
    descriptor: VmdkDescriptor,
    extents: readonly OpenedExtent[],
    owned: readonly { close(): Promise<void> }[],
    parent?: DiskSource,
  ) {
    this.path = path;
    this.descriptor = descriptor;
    this.extents = extents;
    this.capacity = descriptor.capacity;
    this.#owned = owned;
    this.#parent = parent;
  }

  get parent(): DiskSource | undefined {
    return this.#parent;
  }

  async read(target: Uint8Array, offset: number, signal?: AbortSignal): Promise<number> {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > this.capacity) {
      throw diskError(
        "DISK_OUT_OF_RANGE",
        `Read at ${offset} outside VMDK "${this.path}" of ${this.capacity} bytes`,
        {
          path: this.path,
          offset,
          capacity: this.capacity,
        },
      );
    }
    const length = Math.min(target.length, this.capacity - offset);
    for (const extent of this.extents) {
      const from = Math.max(offset, extent.start);
      const to = Math.min(offset + length, extent.start + extent.length);
      if (to <= from) continue;
      throwIfAborted(signal, `Reading VMDK "${this.path}"`);
      const part = target.subarray(from - offset, to - offset);
      const inExtent = from - extent.start;
      if (extent.kind === "zero") part.fill(0);
      else if (extent.kind === "sparse")
        await extent.sparse.read(part, inExtent, signal, this.#parent, extent.start);
      else {
        const got = await extent.source.read(extent.fileOffset + inExtent, part.length, signal);
        if (got.length < part.length) {
          throw diskError(
            "VMDK_EXTENT_INVALID",
            `Flat extent of "${this.path}" ends before byte ${extent.fileOffset + inExtent + part.length}`,
            {
              path: this.path,
            },
          );
        }
        part.set(got);
      }
    }
    return length;
  }

  async allocated(signal?: AbortSignal): Promise<readonly Extent[]> {
    const parentMap =
      this.#parent === undefined
        ? undefined
        : await (this.#parent.allocated?.(signal) ?? [{ start: 0, length: this.capacity }]);
    const out: Extent[] = [];
    for (const extent of this.extents) {
      if (extent.kind === "flat") out.push({ start: extent.start, length: extent.length });
      else if (extent.kind === "sparse") {
        const inParent = parentMap
          ?.map((e) => ({ start: e.start - extent.start, length: e.length }))
          .filter((e) => e.start + e.length > 0 && e.start < extent.length);
        for (const e of await extent.sparse.allocated(signal, inParent)) {
          const length = Math.min(e.length, extent.length - e.start);
          if (length > 0) out.push({ start: extent.start + e.start, length });
        }
      }
    }
    // Coalesce neighbours across extent boundaries.
    const merged: Extent[] = [];
    for (const e of out) {
      const last = merged[merged.length - 1];
      if (last !== undefined && last.start + last.length === e.start)
        merged[merged.length - 1] = { start: last.start, length: last.length + e.length };
      else merged.push(e);
    }
    return merged;
  }

  async close(): Promise<void> {
    const errors: unknown[] = [];
    for (const o of this.#owned) await o.close().catch((err: unknown) => errors.push(err));
    await this.#parent?.close().catch((err: unknown) => errors.push(err));
    if (errors.length > 0) throw errors[0];
  }
}
