/** Helpers over disk extents: coalescing runs and splitting ranges into fixed-size units. */
import type { Extent } from "../domain/ports.js";

/** Collects extents in ascending order, merging each with the previous one when they touch. */
export class ExtentList {
  readonly #items: Extent[] = [];

  add(start: number, length: number): void {
    if (length <= 0) return;
    const last = this.#items[this.#items.length - 1];
    if (last !== undefined && last.start + last.length === start) {
      this.#items[this.#items.length - 1] = { start: last.start, length: last.length + length };
    } else {
      this.#items.push({ start, length });
    }
  }

  toArray(): readonly Extent[] {
    return [...this.#items];
  }
}

/** Clips extents to [0, capacity). */
export function clipExtents(extents: readonly Extent[], capacity: number): Extent[] {
  const out: Extent[] = [];
  for (const e of extents) {
    const end = Math.min(e.start + e.length, capacity);
    if (end > e.start) out.push({ start: e.start, length: end - e.start });
  }
  return out;
}

/**
 * Visits the pieces of [offset, offset + length) cut at multiples of `unit`: `fn(unitIndex,
 * offsetInUnit, pieceLength, offsetInRange)`.
 */
export async function forEachUnit(
  offset: number,
  length: number,
  unit: number,
  fn: (index: number, inUnit: number, pieceLength: number, done: number) => Promise<void>,
): Promise<void> {
  let done = 0;
  while (done < length) {
    const pos = offset + done;
    const index = Math.floor(pos / unit);
    const inUnit = pos - index * unit;
    const piece = Math.min(unit - inUnit, length - done);
    await fn(index, inUnit, piece, done);
    done += piece;
  }
}

/** Union of two sorted extent lists, merged into sorted, non-overlapping, coalesced extents. */
export function unionExtents(a: readonly Extent[], b: readonly Extent[]): Extent[] {
  const all = [...a, ...b].sort((x, y) => x.start - y.start);
  const out: Extent[] = [];
  for (const e of all) {
    const last = out[out.length - 1];
    if (last !== undefined && e.start <= last.start + last.length) {
      const end = Math.max(last.start + last.length, e.start + e.length);
      out[out.length - 1] = { start: last.start, length: end - last.start };
    } else if (e.length > 0) {
      out.push({ start: e.start, length: e.length });
    }
  }
  return out;
}

/** Intersection of two sorted, non-overlapping extent lists. */
export function intersectExtents(a: readonly Extent[], b: readonly Extent[]): Extent[] {
  const out: Extent[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i] as Extent;
    const y = b[j] as Extent;
    const start = Math.max(x.start, y.start);
    const end = Math.min(x.start + x.length, y.start + y.length);
    if (end > start) out.push({ start, length: end - start });
    if (x.start + x.length < y.start + y.length) i++;
    else j++;
  }
  return out;
}
