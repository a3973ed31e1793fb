/**
 * A disk's fixed index: one 32-byte chunk id per chunk-size slot of the disk, in disk order, like
 * Proxmox's `.fidx`. An all-zero id marks an all-zero slot that is stored as nothing (a hole on
 * restore). Every recovery point has a complete index for each disk, so it restores on its own.
 *
 *   "SVIX" | version u32 | capacity u64 | chunkSize u32 | count u32 | ids count*32   (little-endian)
 */
export const ZERO_ID = Buffer.alloc(32);
const MAGIC = Buffer.from("SVIX", "latin1");
const HEADER = 24;

export class DiskIndex {
  readonly capacity: number;
  readonly chunkSize: number;
  /** count*32 bytes of ids. */
  readonly ids: Buffer;

  constructor(capacity: number, chunkSize: number, ids?: Buffer) {
    this.capacity = capacity;
    this.chunkSize = chunkSize;
    const count = slotCount(capacity, chunkSize);
    this.ids = ids ?? Buffer.alloc(count * 32);
    if (this.ids.length !== count * 32)
      throw new RangeError(`index holds ${this.ids.length / 32} ids, not ${count}`);
  }

  get count(): number {
    return this.ids.length / 32;
  }

  id(slot: number): Buffer {
    return this.ids.subarray(slot * 32, slot * 32 + 32);
  }

  setId(slot: number, id: Uint8Array): void {
    this.ids.set(id, slot * 32);
  }

  isZero(slot: number): boolean {
    return this.id(slot).equals(ZERO_ID);
  }

  /** Byte length of a slot: chunkSize, or less for the disk's tail. */
  slotLength(slot: number): number {
    return Math.min(this.chunkSize, this.capacity - slot * this.chunkSize);
  }

  /** Distinct non-zero ids as hex strings. */
  uniqueIds(): Set<string> {
    const out = new Set<string>();
    for (let s = 0; s < this.count; s++) if (!this.isZero(s)) out.add(this.id(s).toString("hex"));
    return out;
  }

  encode(): Buffer {
    const header = Buffer.alloc(HEADER);
    MAGIC.copy(header, 0);
    header.writeUInt32LE(1, 4);
    header.writeBigUInt64LE(BigInt(this.capacity), 8);
    header.writeUInt32LE(this.chunkSize, 16);
    header.writeUInt32LE(this.count, 20);
    return Buffer.concat([header, this.ids]);
  }

  /** Parses an index; throws RangeError with what is wrong (the caller wraps it with the point's name). */
  static decode(bytes: Buffer): DiskIndex {
    if (bytes.length < HEADER || !bytes.subarray(0, 4).equals(MAGIC)) throw new RangeError("bad index magic");
    const version = bytes.readUInt32LE(4);
    if (version !== 1) throw new RangeError(`index version ${version} is not supported`);
    const capacity = bytes.readBigUInt64LE(8);
    if (capacity > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`capacity ${capacity} out of range`);
    const chunkSize = bytes.readUInt32LE(16);
    const count = bytes.readUInt32LE(20);
    if (chunkSize === 0 || count !== slotCount(Number(capacity), chunkSize)) {
      throw new RangeError(`index count ${count} does not match capacity ${capacity}`);
    }
    if (bytes.length !== HEADER + count * 32) throw new RangeError(`index length ${bytes.length} is wrong`);
    // A view, not a copy: a TiB disk's index is 32 MiB, and `bytes` is the caller's own decoded copy.
    return new DiskIndex(Number(capacity), chunkSize, bytes.subarray(HEADER));
  }
}

export function slotCount(capacity: number, chunkSize: number): number {
  return Math.ceil(capacity / chunkSize);
}
