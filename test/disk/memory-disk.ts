/** An in-memory DiskSource for tests, with an allocation map given by the test. */
import type { DiskSource, Extent } from "../../src/domain/ports.js";
import { diskError } from "../../src/disk/errors.js";

export class MemoryDisk implements DiskSource {
  readonly capacity: number;
  readonly bytes: Buffer;
  readonly #extents: readonly Extent[] | undefined;
  reads = 0;

  constructor(bytes: Buffer, extents?: readonly Extent[]) {
    this.bytes = bytes;
    this.capacity = bytes.length;
    this.#extents = extents;
  }

  async read(target: Uint8Array, offset: number): Promise<number> {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > this.capacity) {
      throw diskError(
        "DISK_OUT_OF_RANGE",
        `Read at ${offset} outside the ${this.capacity}-byte memory disk`,
        { offset },
      );
    }
    this.reads++;
    const n = Math.max(0, Math.min(target.length, this.capacity - offset));
    target.set(this.bytes.subarray(offset, offset + n));
    return n;
  }

  async allocated(): Promise<readonly Extent[]> {
    return this.#extents ?? [{ start: 0, length: this.capacity }];
  }

  async close(): Promise<void> {}
}
