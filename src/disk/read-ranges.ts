/**
 * Batched reads of many small ranges (grain tables, bitmaps) from a byte source: ranges close to
 * each other are fetched in one read, so a remote source (HTTPS Range, SFTP) makes few round trips.
 */
import type { ByteSource } from "../domain/ports.js";
import { throwIfAborted } from "./errors.js";

export interface ByteRange {
  readonly offset: number;
  readonly length: number;
}

/**
 * Reads every range and returns its bytes by offset. Ranges whose gap is below `maxGap` share a
 * read of at most `maxRead` bytes.
 */
export async function readRanges(
  source: ByteSource,
  ranges: readonly ByteRange[],
  options: {
    readonly maxGap?: number;
    readonly maxRead?: number;
    readonly signal?: AbortSignal | undefined;
  } = {},
): Promise<Map<number, Uint8Array>> {
  const maxGap = options.maxGap ?? 64 * 1024;
  const maxRead = options.maxRead ?? 8 * 1024 * 1024;
  const sorted = [...ranges].sort((a, b) => a.offset - b.offset);
  const out = new Map<number, Uint8Array>();
  let i = 0;
  while (i < sorted.length) {
    throwIfAborted(options.signal, "Reading tables");
    const first = sorted[i] as ByteRange;
    let end = first.offset + first.length;
    let j = i + 1;
    for (; j < sorted.length; j++) {
      const r = sorted[j] as ByteRange;
      const nextEnd = Math.max(end, r.offset + r.length);
      if (r.offset - end > maxGap || nextEnd - first.offset > maxRead) break;
      end = nextEnd;
    }
    const bytes = await source.read(first.offset, end - first.offset, options.signal);
    for (let k = i; k < j; k++) {
      const r = sorted[k] as ByteRange;
      out.set(r.offset, bytes.subarray(r.offset - first.offset, r.offset - first.offset + r.length));
    }
    i = j;
  }
  return out;
}
