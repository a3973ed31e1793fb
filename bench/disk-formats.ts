/**
 * Read throughput of the image readers: raw vs dynamic VHDX vs monolithicSparse VMDK vs
 * streamOptimized VMDK, over the same disk, for two patterns: "dense" (every other 1 MiB holds random
 * data) and "sparse" (1 MiB of data every 64 MiB).
 * Usage: npm run build && node dist/bench/disk-formats.js [sizeMiB=256] [readKiB=1024]
 * Each figure is the best of three passes reading the allocated extents, as a backup does.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { randomFillSync } from "node:crypto";
import type { DiskSource, Extent } from "../src/domain/ports.js";
import { exportDisk, type ExportFormat } from "../src/disk/export.js";
import { openDiskImage } from "../src/disk/open-image.js";

const MiB = 1024 * 1024;
const sizeMiB = Number(process.argv[2] ?? 256);
const readKiB = Number(process.argv[3] ?? 1024);

class PatternDisk implements DiskSource {
  readonly capacity = sizeMiB * MiB;
  readonly #bytes = Buffer.alloc(sizeMiB * MiB);
  constructor(everyMiB: number) {
    for (let m = 0; m < sizeMiB; m += everyMiB) randomFillSync(this.#bytes, m * MiB, MiB);
  }
  async read(target: Uint8Array, offset: number): Promise<number> {
    const n = Math.min(target.length, this.capacity - offset);
    target.set(this.#bytes.subarray(offset, offset + n));
    return n;
  }
  async allocated(): Promise<readonly Extent[]> {
    return [{ start: 0, length: this.capacity }];
  }
  async close(): Promise<void> {}
}

async function readAllocated(disk: DiskSource): Promise<{ seconds: number; bytes: number }> {
  const extents = (await disk.allocated?.()) ?? [{ start: 0, length: disk.capacity }];
  const buffer = new Uint8Array(readKiB * 1024);
  let bytes = 0;
  const t0 = performance.now();
  for (const e of extents) {
    for (let at = e.start; at < e.start + e.length; at += buffer.length) {
      bytes += await disk.read(buffer.subarray(0, Math.min(buffer.length, e.start + e.length - at)), at);
    }
  }
  return { seconds: (performance.now() - t0) / 1000, bytes };
}

const dir = await mkdtemp(join(tmpdir(), "snapvisor-bench-"));
try {
  const formats: [string, ExportFormat][] = [
    ["raw", "raw"],
    ["vhdx (dynamic, 32 MiB blocks)", "vhdx"],
    ["vmdk (monolithicSparse)", "vmdk-sparse"],
    ["vmdk (streamOptimized)", "vmdk"],
  ];
  console.log(`disk ${sizeMiB} MiB, reads of ${readKiB} KiB over allocated extents, best of 3`);
  for (const [pattern, every] of [
    ["dense", 2],
    ["sparse", 64],
  ] as const) {
    const source = new PatternDisk(every);
    console.log(`\n${pattern}: 1 MiB of random data every ${every} MiB`);
    console.log("format                           allocated MiB  read MiB/s");
    for (const [label, format] of formats) {
      const file = join(dir, `bench.${format}`);
      await exportDisk(source, file, { format, ...(format === "vhdx" ? { vhdxBlockSize: 32 * MiB } : {}) });
      let best = Infinity;
      let bytes = 0;
      for (let pass = 0; pass < 3; pass++) {
        const disk = await openDiskImage(file);
        const r = await readAllocated(disk);
        await disk.close();
        best = Math.min(best, r.seconds);
        bytes = r.bytes;
      }
      console.log(
        `${label.padEnd(32)} ${String(bytes / MiB).padStart(13)}  ${(bytes / MiB / best).toFixed(0).padStart(10)}`,
      );
      await rm(file);
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
