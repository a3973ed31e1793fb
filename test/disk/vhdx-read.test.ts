import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { openVhdx } from "../../src/disk/vhdx/open.js";
import { qemuImg, qemuIo, qemuMissing, qemuRaw, readWhole, tempDir, zeroOutside } from "./qemu.js";

const MiB = 1024 * 1024;

/** Sector-aligned writes at awkward places: block edges, mid-block, the very last sectors. */
function writesFor(size: number): [number, number, number][] {
  return [
    [0x11, 0, 4096],
    [0x22, MiB - 512, 1024],
    [0x33, 3 * MiB + 12345 * 512, 70 * 1024],
    [0x44, size - 4096, 4096],
  ];
}

function qemuWrites(writes: [number, number, number][]): string[] {
  return writes.map(([p, at, len]) => `write -P ${p} ${at} ${len}`);
}

/** Bytes of the blocks the writes touch (the last block clipped to the disk). */
function touchedBlocksBytes(writes: [number, number, number][], blockSize: number, size: number): number {
  const blocks = new Set<number>();
  for (const [, at, len] of writes)
    for (let b = Math.floor(at / blockSize); b * blockSize < at + len; b++) blocks.add(b);
  return [...blocks].reduce((n, b) => n + Math.min(blockSize, size - b * blockSize), 0);
}

describe("VHDX reader against qemu-img", { skip: qemuMissing }, () => {
  let dir = "";
  let cleanup = async (): Promise<void> => {};
  before(async () => ({ dir, cleanup } = await tempDir()));
  after(() => cleanup());

  const cases = [
    { subformat: "dynamic", blockSize: "1M", size: 13 * MiB + 3584 },
    { subformat: "dynamic", blockSize: "8M", size: 13 * MiB + 3584 },
    { subformat: "dynamic", blockSize: "32M", size: 40 * MiB },
    { subformat: "fixed", blockSize: "1M", size: 12 * MiB + 512 },
  ];
  for (const c of cases) {
    it(`reads a ${c.subformat} VHDX with ${c.blockSize} blocks of ${c.size} bytes as qemu-img convert does`, async () => {
      const file = join(dir, `${c.subformat}-${c.blockSize}.vhdx`);
      await qemuImg(
        "create",
        "-f",
        "vhdx",
        "-o",
        `subformat=${c.subformat},block_size=${c.blockSize}`,
        file,
        String(c.size),
      );
      const writes = writesFor(c.size);
      await qemuIo("vhdx", file, ...qemuWrites(writes));
      const expected = await qemuRaw(dir, file, "vhdx");
      const disk = await openVhdx(file);
      try {
        assert.equal(disk.capacity, c.size);
        const actual = await readWhole(disk);
        assert.ok(actual.equals(expected), "contents differ from qemu-img convert");
        const extents = await disk.allocated();
        assert.ok(zeroOutside(actual, extents), "data outside the allocated extents");
        if (c.subformat === "dynamic") {
          const total = extents.reduce((n, e) => n + e.length, 0);
          assert.equal(total, touchedBlocksBytes(writes, parseInt(c.blockSize) * MiB, c.size));
        }
      } finally {
        await disk.close();
      }
    });
  }

  it("reports an empty dynamic VHDX as having no allocated extents and reads zeros", async () => {
    const file = join(dir, "empty.vhdx");
    await qemuImg("create", "-f", "vhdx", file, "5M");
    const disk = await openVhdx(file);
    try {
      assert.deepEqual(await disk.allocated(), []);
      const bytes = await readWhole(disk);
      assert.ok(bytes.every((b) => b === 0));
    } finally {
      await disk.close();
    }
  });
});
