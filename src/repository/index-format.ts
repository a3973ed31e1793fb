/**
 * A disk's fixed index: one 32-byte id per chunk-size slot of the disk, in disk order, like
 * Proxmox's `.fidx`. An all-zero id marks an all-zero slot that is stored as nothing (a hole on
 * restore). Every recovery point has a complete index for each disk, so it restores on its own.
 *
 * A slot may hold a delta (delta.ts): its id names an object holding only the slot's changed
 * 64 KiB sub-blocks, laid over a base chunk (or over zeros). The index lists those slots with their
 * bases, so garbage collection, replication and orphan checks see every object a point needs
 * without opening any.
 *
 *   "SVIX" | version u32 | capacity u64 | chunkSize u32 | count u32 | ids
 *   version 1: ids = count × 32 bytes
 *   version 2: ids = runs (id-runs.ts: zero slots as counts, then the ids of the others),
 *              then deltaCount u32 | deltaCount × (slot u32 | base id 32), slots ascending
 *   (little-endian; version 2 is written, both are read)
 */
import { decodeRuns, encodeRuns } from "./id-runs.js";

export const ZERO_ID = Buffer.alloc(32);
const MAGIC = Buffer.from("SVIX", "latin1");
const HEADER = 24;
const DELTA_ENTRY = 36;

export class DiskIndex {
  readonly capacity: number;
  readonly chunkSize: number;
  /** count*32 bytes of ids. */
  readonly ids: Buffer;
  /** Delta slots as decoded or inherited (ascending), and their bases: shared, never written. */
  #deltaSlots: Uint32Array;
  #deltaBases: Buffer;
  /** Changes since: a slot's new base, or null when it no longer holds a delta. */
  readonly #changed = new Map<number, Buffer | null>();

  constructor(capacity: number, chunkSize: number, ids?: Buffer) {
    this.capacity = capacity;
    this.chunkSize = chunkSize;
    const count = slotCount(capacity, chunkSize);
    this.ids = ids ?? Buffer.alloc(count * 32);
    if (this.ids.length !== count * 32)
      throw new RangeError(`index holds ${this.ids.length / 32} ids, not ${count}`);
    this.#deltaSlots = new Uint32Array(0);
    this.#deltaBases = Buffer.alloc(0);
  }

  /**
   * A copy of `parent` to be changed slot by slot (an incremental's index). With `adopt`, the copy
   * takes over the parent's ids instead of copying them (a 16 TiB disk's ids are 128 MiB at 4 MiB
   * chunks): the caller then reads a slot of the parent only before changing it in the copy.
   */
  static inherit(parent: DiskIndex, options: { adopt?: boolean } = {}): DiskIndex {
    const ids = options.adopt ? parent.ids : Buffer.from(parent.ids);
    const index = new DiskIndex(parent.capacity, parent.chunkSize, ids);
    const { slots, bases } = parent.#deltaTable();
    index.#deltaSlots = slots;
    index.#deltaBases = bases;
    return index;
  }

  get count(): number {
    return this.ids.length / 32;
  }

  id(slot: number): Buffer {
    return this.ids.subarray(slot * 32, slot * 32 + 32);
  }

  /** Sets a slot to a whole chunk (or ZERO_ID). */
  setId(slot: number, id: Uint8Array): void {
    this.ids.set(id, slot * 32);
    if (this.#changed.has(slot) || this.#find(slot) >= 0) this.#changed.set(slot, null);
  }

  /** Sets a slot to a delta over `base` (a chunk id, or ZERO_ID for zeros). */
  setDelta(slot: number, id: Uint8Array, base: Uint8Array): void {
    // The base first: it may be a view of this very slot's old id (an adopted parent's).
    this.#changed.set(slot, Buffer.from(base));
    this.ids.set(id, slot * 32);
  }

  isZero(slot: number): boolean {
    return this.id(slot).equals(ZERO_ID);
  }

  /** The base of the slot's delta (ZERO_ID: zeros), or undefined when the slot holds a whole chunk. */
  baseOf(slot: number): Buffer | undefined {
    const changed = this.#changed.get(slot);
    if (changed !== undefined) return changed ?? undefined;
    const at = this.#find(slot);
    return at < 0 ? undefined : this.#deltaBases.subarray(at * 32, at * 32 + 32);
  }

  get deltaCount(): number {
    return this.#deltaTable().slots.length;
  }

  /** Byte length of a slot: chunkSize, or less for the disk's tail. */
  slotLength(slot: number): number {
    return Math.min(this.chunkSize, this.capacity - slot * this.chunkSize);
  }

  /**
   * Every object the index needs, as buffers of 32-byte ids (zero ids included, to be skipped):
   * the slots' ids, then the bases of its deltas. No copy of the slots' ids is made.
   */
  idBuffers(): Buffer[] {
    const { bases } = this.#deltaTable();
    return bases.length > 0 ? [this.ids, bases] : [this.ids];
  }

  /** Distinct non-zero ids the index needs (slots and delta bases) as hex strings. */
  uniqueIds(): Set<string> {
    const out = new Set<string>();
    for (const ids of this.idBuffers())
      for (let off = 0; off < ids.length; off += 32) {
        const id = ids.subarray(off, off + 32);
        if (!id.equals(ZERO_ID)) out.add(id.toString("hex"));
      }
    return out;
  }

  encode(): Buffer {
    const { slots, bases } = this.#deltaTable();
    const header = Buffer.alloc(HEADER);
    MAGIC.copy(header, 0);
    header.writeUInt32LE(2, 4);
    header.writeBigUInt64LE(BigInt(this.capacity), 8);
    header.writeUInt32LE(this.chunkSize, 16);
    header.writeUInt32LE(this.count, 20);
    const deltas = Buffer.alloc(4 + slots.length * DELTA_ENTRY);
    deltas.writeUInt32LE(slots.length, 0);
    for (let i = 0; i < slots.length; i++) {
      deltas.writeUInt32LE(slots[i]!, 4 + i * DELTA_ENTRY);
      bases.copy(deltas, 8 + i * DELTA_ENTRY, i * 32, i * 32 + 32);
    }
    return Buffer.concat([header, ...encodeRuns(this.ids), deltas]);
  }

  /** Parses an index; throws RangeError with what is wrong (the caller wraps it with the point's name). */
  static decode(bytes: Buffer): DiskIndex {
    if (bytes.length < HEADER || !bytes.subarray(0, 4).equals(MAGIC)) throw new RangeError("bad index magic");
    const version = bytes.readUInt32LE(4);
    if (version !== 1 && version !== 2) throw new RangeError(`index version ${version} is not supported`);
    const capacity = bytes.readBigUInt64LE(8);
    if (capacity > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`capacity ${capacity} out of range`);
    const chunkSize = bytes.readUInt32LE(16);
    const count = bytes.readUInt32LE(20);
    if (chunkSize === 0 || count !== slotCount(Number(capacity), chunkSize)) {
      throw new RangeError(`index count ${count} does not match capacity ${capacity}`);
    }
    if (version === 1) {
      if (bytes.length !== HEADER + count * 32) throw new RangeError(`index length ${bytes.length} is wrong`);
      // A view, not a copy: `bytes` is the caller's own decoded copy.
      return new DiskIndex(Number(capacity), chunkSize, bytes.subarray(HEADER));
    }
    const index = new DiskIndex(Number(capacity), chunkSize);
    index.#decodeDeltas(bytes, decodeRuns(bytes, HEADER, index.ids));
    return index;
  }

  #decodeDeltas(bytes: Buffer, at: number): void {
    if (at + 4 > bytes.length) throw new RangeError(`index length ${bytes.length} is wrong`);
    const n = bytes.readUInt32LE(at);
    if (bytes.length !== at + 4 + n * DELTA_ENTRY)
      throw new RangeError(`index length ${bytes.length} is wrong for ${n} deltas`);
    const slots = new Uint32Array(n);
    const bases = Buffer.alloc(n * 32);
    for (let i = 0; i < n; i++) {
      const entry = at + 4 + i * DELTA_ENTRY;
      const slot = bytes.readUInt32LE(entry);
      if (slot >= this.count || (i > 0 && slot <= slots[i - 1]!))
        throw new RangeError(`delta slot ${slot} is out of order or past the disk`);
      if (this.isZero(slot)) throw new RangeError(`delta slot ${slot} has no id`);
      slots[i] = slot;
      bytes.copy(bases, i * 32, entry + 4, entry + DELTA_ENTRY);
    }
    this.#deltaSlots = slots;
    this.#deltaBases = bases;
  }

  /** Binary search of the decoded/inherited table; -1 when absent. */
  #find(slot: number): number {
    const slots = this.#deltaSlots;
    let lo = 0;
    let hi = slots.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const s = slots[mid]!;
      if (s === slot) return mid;
      if (s < slot) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** The table with the changes folded in (and kept folded: later reads are plain lookups). */
  #deltaTable(): { slots: Uint32Array; bases: Buffer } {
    if (this.#changed.size > 0) {
      const merged = new Map<number, Buffer>();
      for (let i = 0; i < this.#deltaSlots.length; i++)
        merged.set(this.#deltaSlots[i]!, this.#deltaBases.subarray(i * 32, i * 32 + 32));
      for (const [slot, base] of this.#changed) {
        if (base) merged.set(slot, base);
        else merged.delete(slot);
      }
      const order = [...merged.keys()].sort((a, b) => a - b);
      const bases = Buffer.alloc(order.length * 32);
      order.forEach((slot, i) => merged.get(slot)!.copy(bases, i * 32));
      this.#deltaSlots = Uint32Array.from(order);
      this.#deltaBases = bases;
      this.#changed.clear();
    }
    return { slots: this.#deltaSlots, bases: this.#deltaBases };
  }
}

export function slotCount(capacity: number, chunkSize: number): number {
  return Math.ceil(capacity / chunkSize);
}
