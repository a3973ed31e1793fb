import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DiskSource, Extent } from "../../src/domain/ports.js";

/** A DiskSource over a Buffer: what a snapshot's disk looks like to the writer. */
export function bufferSource(
  data: Buffer,
  options: { allocated?: Extent[]; failAt?: number } = {},
): DiskSource {
  return {
    capacity: data.length,
    async read(target, offset) {
      if (
        options.failAt !== undefined &&
        offset <= options.failAt &&
        options.failAt < offset + target.length
      ) {
        throw new Error(`injected read failure at ${options.failAt}`);
      }
      const n = Math.max(0, Math.min(target.length, data.length - offset));
      data.copy(target, 0, offset, offset + n);
      return n;
    },
    ...(options.allocated ? { allocated: async () => options.allocated! } : {}),
    async close() {},
  };
}

/** Deterministic pseudo-random bytes (xorshift), so tests and benchmarks are repeatable. */
export function seededBytes(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out.writeUInt32LE(x, i - (i + 4 > length ? i + 4 - length : 0));
  }
  return out;
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "snapvisor-test-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export const consistency = { expected: "crash", achieved: "crash", reason: "" } as const;
export const machine = { id: "vm-1", name: "web-01", hypervisor: "image" } as const;
