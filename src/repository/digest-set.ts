/**
 * A set of 32-byte digests in one Buffer (open addressing, linear probing). Garbage collection marks
 * millions of chunk ids; a `Set<string>` of hex would take ~4x the memory. Digests are uniformly
 * random, so their first bytes serve as the hash. The all-zero digest cannot be stored (it marks an
 * empty slot, and in indexes an all-zero chunk, which is never stored either).
 */
export class DigestSet {
  #slots: Buffer;
  #mask: number;
  #size = 0;

  constructor(expected = 1024) {
    let cap = 1024;
    while (cap < expected * 2) cap *= 2;
    this.#slots = Buffer.alloc(cap * 32);
    this.#mask = cap - 1;
  }

  get size(): number {
    return this.#size;
  }

  #find(d: Uint8Array): { index: number; found: boolean } {
    let i = ((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) & this.#mask;
    for (;;) {
      const off = i * 32;
      const slot = this.#slots.subarray(off, off + 32);
      if (slot[0] === 0 && isZero(slot)) return { index: i, found: false };
      if (Buffer.compare(slot, d) === 0) return { index: i, found: true };
      i = (i + 1) & this.#mask;
    }
  }

  has(digest: Uint8Array): boolean {
    if (digest.length !== 32 || isZero(digest)) return false;
    return this.#find(digest).found;
  }

  /** Adds the digest; false when it was already there (or is the all-zero digest). */
  add(digest: Uint8Array): boolean {
    if (digest.length !== 32) throw new RangeError("digest must be 32 bytes");
    if (isZero(digest)) return false;
    const { index, found } = this.#find(digest);
    if (found) return false;
    this.#slots.set(digest, index * 32);
    this.#size++;
    if (this.#size * 2 > this.#mask + 1) this.#grow();
    return true;
  }

  #grow(): void {
    const old = this.#slots;
    this.#slots = Buffer.alloc(old.length * 2);
    this.#mask = this.#slots.length / 32 - 1;
    this.#size = 0;
    for (let off = 0; off < old.length; off += 32) {
      const d = old.subarray(off, off + 32);
      if (!isZero(d)) this.add(d);
    }
  }

  /** Adds every id of a packed array of 32-byte ids (an index's body). */
  addAll(ids: Buffer): void {
    for (let off = 0; off < ids.length; off += 32) this.add(ids.subarray(off, off + 32));
  }
}

function isZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}
