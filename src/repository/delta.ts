/**
 * A delta: the changed 64 KiB sub-blocks of one slot, laid over a base chunk (or over zeros). An
 * incremental whose changes touch few sub-blocks of a slot stores a delta instead of rereading,
 * rehashing and rewriting the whole chunk: its cost follows the changed bytes, not the chunk size.
 *
 * A delta is stored as a chunk whose plaintext is
 *
 *   "SVD1" | sub-block size u32 | slot length u32 | base id 32 | bitmap ceil(n/8) | sub-blocks
 *
 * (n = sub-blocks in the slot; bit i set = sub-block i follows, in ascending order, each of full
 * size except the slot's last, which may be shorter). Its id is the chunk id of that plaintext, so
 * storage, dedup, verify, gc and replication treat it as any chunk; only the index says a slot holds a
 * delta (index-format.ts), and readers lay it over its base. The base is always a whole chunk: a
 * slot changed again carries the previous delta's sub-blocks into the new one, so a read never
 * needs more than two objects.
 */
export const SUB_BLOCK = 64 * 1024;
const MAGIC = Buffer.from("SVD1", "latin1");
const FIXED = 4 + 4 + 4 + 32;

export class DeltaFormatError extends Error {
  override readonly name = "DeltaFormatError";
}

export function subBlockCount(slotLength: number): number {
  return Math.ceil(slotLength / SUB_BLOCK);
}

function subBlockLength(slotLength: number, i: number): number {
  return Math.min(SUB_BLOCK, slotLength - i * SUB_BLOCK);
}

/** Bytes of the header of a delta of a slot of `slotLength` bytes. */
export function deltaHeaderLength(slotLength: number): number {
  return FIXED + Math.ceil(subBlockCount(slotLength) / 8);
}

export interface DeltaLayout {
  /** Total plaintext length. */
  readonly length: number;
  /** Where each listed sub-block's bytes go in the plaintext, in ascending sub-block order. */
  readonly blocks: readonly { readonly index: number; readonly at: number; readonly length: number }[];
}

/**
 * Writes a delta's header for `subBlocks` (ascending, distinct) into `target` and returns where
 * each sub-block's bytes belong; the caller fills them in (straight from the source, no copy).
 */
export function writeDeltaHeader(
  target: Buffer,
  slotLength: number,
  base: Uint8Array,
  subBlocks: readonly number[],
): DeltaLayout {
  const n = subBlockCount(slotLength);
  const header = deltaHeaderLength(slotLength);
  MAGIC.copy(target, 0);
  target.writeUInt32LE(SUB_BLOCK, 4);
  target.writeUInt32LE(slotLength, 8);
  target.set(base, 12);
  target.fill(0, FIXED, header);
  const blocks: { index: number; at: number; length: number }[] = [];
  let at = header;
  let last = -1;
  for (const i of subBlocks) {
    if (!Number.isInteger(i) || i <= last || i >= n)
      throw new RangeError(`sub-block ${i} out of order or range`);
    last = i;
    target[FIXED + (i >> 3)]! |= 1 << (i & 7);
    const length = subBlockLength(slotLength, i);
    blocks.push({ index: i, at, length });
    at += length;
  }
  return { length: at, blocks };
}

export interface ParsedDelta {
  readonly slotLength: number;
  readonly base: Buffer;
  /** The sub-blocks it holds: index and a view of their bytes, ascending. */
  readonly blocks: readonly { readonly index: number; readonly data: Buffer }[];
}

/** Parses a delta's plaintext; throws DeltaFormatError naming what is wrong. */
export function parseDelta(plain: Buffer): ParsedDelta {
  if (plain.length < FIXED || !plain.subarray(0, 4).equals(MAGIC))
    throw new DeltaFormatError("bad delta magic");
  const sub = plain.readUInt32LE(4);
  if (sub !== SUB_BLOCK) throw new DeltaFormatError(`sub-block size ${sub} is not supported`);
  const slotLength = plain.readUInt32LE(8);
  if (slotLength === 0) throw new DeltaFormatError("slot length 0");
  const header = deltaHeaderLength(slotLength);
  if (plain.length < header) throw new DeltaFormatError("truncated header");
  const n = subBlockCount(slotLength);
  const blocks: { index: number; data: Buffer }[] = [];
  let at = header;
  for (let i = 0; i < n; i++) {
    if (!(plain[FIXED + (i >> 3)]! & (1 << (i & 7)))) continue;
    const length = subBlockLength(slotLength, i);
    if (at + length > plain.length) throw new DeltaFormatError(`truncated at sub-block ${i}`);
    blocks.push({ index: i, data: plain.subarray(at, at + length) });
    at += length;
  }
  if (at !== plain.length) throw new DeltaFormatError(`${plain.length - at} bytes past the last sub-block`);
  for (let bit = n; bit < (header - FIXED) * 8; bit++)
    if (plain[FIXED + (bit >> 3)]! & (1 << (bit & 7))) throw new DeltaFormatError(`bit ${bit} past the slot`);
  return { slotLength, base: Buffer.from(plain.subarray(12, 44)), blocks };
}

/** Lays a delta's sub-blocks over `target` (the base's plaintext, or zeros), in place. */
export function applyDelta(target: Buffer, delta: ParsedDelta): void {
  if (target.length !== delta.slotLength)
    throw new DeltaFormatError(`delta is for ${delta.slotLength} bytes, the slot has ${target.length}`);
  for (const b of delta.blocks) target.set(b.data, b.index * SUB_BLOCK);
}

/**
 * The sub-blocks of each touched slot that `extents` (sorted, non-overlapping, in bytes) change:
 * slot -> ascending sub-block indexes within the slot.
 */
export function subBlocksTouched(
  extents: readonly { start: number; length: number }[],
  chunkSize: number,
): Map<number, number[]> {
  const perSlot = chunkSize / SUB_BLOCK;
  const out = new Map<number, number[]>();
  for (const e of extents) {
    if (e.length <= 0) continue;
    const first = Math.floor(e.start / SUB_BLOCK);
    const last = Math.floor((e.start + e.length - 1) / SUB_BLOCK);
    for (let g = first; g <= last; g++) {
      const slot = Math.floor(g / perSlot);
      const list = out.get(slot) ?? [];
      const i = g - slot * perSlot;
      if (list.at(-1) !== i) list.push(i);
      out.set(slot, list);
    }
  }
  return out;
}

/** Ascending union of two ascending lists. */
export function unionSorted(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = i < a.length ? a[i]! : Infinity;
    const y = j < b.length ? b[j]! : Infinity;
    const v = Math.min(x, y);
    if (x === v) i++;
    if (y === v) j++;
    out.push(v);
  }
  return out;
}

/**
 * Whether a touched slot is stored as a delta: when at most half its sub-blocks differ from the
 * base (more, and reading base + delta on restore would cost more than the whole chunk).
 */
export function storeAsDelta(slotLength: number, changedSubBlocks: number): boolean {
  const n = subBlockCount(slotLength);
  return n >= 2 && changedSubBlocks * 2 <= n;
}
