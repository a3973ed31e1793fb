/**
 * Slot ids stored as runs: `zeros u32 | present u32 | present × 32-byte id`, repeated until every
 * slot is covered. A sparse disk's index then holds its data's ids and little else: an 8 TiB disk
 * with 32 MiB written is a few hundred bytes instead of 64 MiB of mostly zero ids, which also keeps
 * its decoding small (zstd's one-shot decoder takes twice the output size while it works).
 */
const ID = 32;

/** True when the 32 bytes at `at` are all zero (read as eight 32-bit words). */
function zeroAt(ids: Buffer, at: number): boolean {
  for (let i = 0; i < ID; i += 4) if (ids.readUInt32LE(at + i) !== 0) return false;
  return true;
}

/** The runs of `ids` (count × 32 bytes) as buffers to be written in order. */
export function encodeRuns(ids: Buffer): Buffer[] {
  const count = ids.length / ID;
  const parts: Buffer[] = [];
  let slot = 0;
  while (slot < count) {
    let zeros = 0;
    while (slot + zeros < count && zeroAt(ids, (slot + zeros) * ID)) zeros++;
    const first = slot + zeros;
    let present = 0;
    while (first + present < count && !zeroAt(ids, (first + present) * ID)) present++;
    const head = Buffer.alloc(8);
    head.writeUInt32LE(zeros, 0);
    head.writeUInt32LE(present, 4);
    parts.push(head);
    if (present > 0) parts.push(ids.subarray(first * ID, (first + present) * ID));
    slot = first + present;
  }
  return parts;
}

/**
 * Fills `into` (count × 32 bytes, zeroed) from runs starting at `at` in `bytes`; returns where the
 * runs end. Throws RangeError when they do not cover exactly `count` slots or hold a zero id.
 */
export function decodeRuns(bytes: Buffer, at: number, into: Buffer): number {
  const count = into.length / ID;
  let slot = 0;
  let pos = at;
  while (slot < count) {
    if (pos + 8 > bytes.length) throw new RangeError(`index runs end at slot ${slot} of ${count}`);
    const zeros = bytes.readUInt32LE(pos);
    const present = bytes.readUInt32LE(pos + 4);
    pos += 8;
    if (zeros + present === 0 || slot + zeros + present > count)
      throw new RangeError(`index run of ${zeros} + ${present} slots at slot ${slot} does not fit ${count}`);
    slot += zeros;
    const end = pos + present * ID;
    if (end > bytes.length) throw new RangeError(`index run at slot ${slot} is truncated`);
    bytes.copy(into, slot * ID, pos, end);
    for (let i = 0; i < present; i++)
      if (zeroAt(into, (slot + i) * ID)) throw new RangeError(`slot ${slot + i} is listed with a zero id`);
    slot += present;
    pos = end;
  }
  return pos;
}
