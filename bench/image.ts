import { open } from "node:fs/promises";

/**
 * The benchmark's disk: 4 MiB regions, chosen by a seeded generator: 60% random, 20% zero, 20% text
 * (repetitive but not trivially so, like logs and source). Deterministic for a seed.
 */
export const REGION = 4 * 1024 * 1024;

function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function fillRandom(buf: Buffer, next: () => number): void {
  for (let i = 0; i + 4 <= buf.length; i += 4) buf.writeUInt32LE(next(), i);
}

const WORDS =
  "the disk block change tracking snapshot quiesce consistent recovery point chain index chunk vm host datastore error info warn".split(
    " ",
  );

function fillText(buf: Buffer, next: () => number): void {
  let off = 0;
  while (off < buf.length) {
    const line = `${new Date(1_700_000_000_000 + (next() % 1e9)).toISOString()} ${Array.from({ length: 8 }, () => WORDS[next() % WORDS.length]).join(" ")} id=${next().toString(16)}\n`;
    off += buf.write(line, off);
  }
}

export async function writeImage(path: string, size: number, seed: number): Promise<void> {
  const fh = await open(path, "w");
  const next = xorshift(seed);
  const buf = Buffer.alloc(REGION);
  try {
    for (let off = 0; off < size; off += REGION) {
      const kind = next() % 10;
      if (kind < 6) fillRandom(buf, next);
      else if (kind < 8) buf.fill(0);
      else fillText(buf, next);
      await fh.write(buf, 0, Math.min(REGION, size - off), off);
    }
  } finally {
    await fh.close();
  }
}

/** Changes `fraction` of the image's 64 KiB blocks in place; returns their extents (sorted). */
export async function changeBlocks(
  path: string,
  size: number,
  fraction: number,
  seed: number,
): Promise<{ start: number; length: number }[]> {
  const block = 64 * 1024;
  const blocks = size / block;
  const next = xorshift(seed);
  const chosen = new Set<number>();
  while (chosen.size < Math.round(blocks * fraction)) chosen.add(next() % blocks);
  const fh = await open(path, "r+");
  const buf = Buffer.alloc(block);
  try {
    for (const b of chosen) {
      fillRandom(buf, next);
      await fh.write(buf, 0, block, b * block);
    }
  } finally {
    await fh.close();
  }
  return [...chosen].sort((a, b) => a - b).map((b) => ({ start: b * block, length: block }));
}
