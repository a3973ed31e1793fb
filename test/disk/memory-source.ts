/** An in-memory ByteSource (the fake of the port), for codec tests that need no files. */
import type { ByteSource } from "../../src/domain/ports.js";
import { diskError, throwIfAborted } from "../../src/disk/errors.js";

export function memoryByteSource(bytes: Uint8Array): ByteSource & { reads: number } {
  return {
    size: bytes.length,
    reads: 0,
    async read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
      throwIfAborted(signal, "Reading memory source");
      if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
        throw diskError("DISK_OUT_OF_RANGE", `Invalid read of ${length} bytes at ${offset}`, {
          offset,
          length,
        });
      }
      this.reads++;
      return Uint8Array.from(bytes.subarray(offset, offset + length));
    },
    async close(): Promise<void> {},
  };
}
