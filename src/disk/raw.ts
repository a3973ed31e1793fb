/** A raw image (a plain file holding the disk's bytes) as a DiskSource. */
import type { ByteSource, DiskSource, Extent } from "../domain/ports.js";
import { diskError } from "./errors.js";

export class RawDisk implements DiskSource {
  readonly path: string;
  readonly capacity: number;
  readonly #source: ByteSource;

  constructor(source: ByteSource, path: string) {
    this.#source = source;
    this.path = path;
    this.capacity = source.size;
  }

  async read(target: Uint8Array, offset: number, signal?: AbortSignal): Promise<number> {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > this.capacity) {
      throw diskError(
        "DISK_OUT_OF_RANGE",
        `Read at ${offset} outside raw image "${this.path}" of ${this.capacity} bytes`,
        {
          path: this.path,
          offset,
          capacity: this.capacity,
        },
      );
    }
    const length = Math.min(target.length, this.capacity - offset);
    if (this.#source.readInto) return this.#source.readInto(target.subarray(0, length), offset, signal);
    const got = await this.#source.read(offset, length, signal);
    target.set(got);
    return got.length;
  }

  /**
   * A raw file carries no allocation map of its own; a local file's holes (file-map.ts) read as
   * zeros and are skipped. Without a map the whole disk may hold data.
   */
  async allocated(signal?: AbortSignal): Promise<readonly Extent[]> {
    if (this.capacity === 0) return [];
    const mapped = await this.#source.dataExtents?.(signal);
    return mapped ?? [{ start: 0, length: this.capacity }];
  }

  close(): Promise<void> {
    return this.#source.close();
  }
}
