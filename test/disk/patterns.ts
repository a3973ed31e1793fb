/** Deterministic test data and an in-memory model of a disk that writes are mirrored into. */

/** Pseudo-random bytes (xorshift32) so every write is distinguishable; `seed` must be non-zero. */
export function noise(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Applies writes to a model buffer and to a target that accepts `write(data, offset)`. */
export async function writeBoth(
  model: Buffer,
  target: { write(data: Uint8Array, offset: number): Promise<void> },
  writes: readonly (readonly [offset: number, length: number, seed: number])[],
): Promise<void> {
  for (const [offset, length, seed] of writes) {
    const data = noise(length, seed);
    data.copy(model, offset);
    await target.write(data, offset);
  }
}
