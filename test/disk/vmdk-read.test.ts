import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { openVmdk } from "../../src/disk/vmdk/open.js";
import { qemuImg, qemuIo, qemuMissing, qemuRaw, readWhole, tempDir, zeroOutside } from "./qemu.js";

const MiB = 1024 * 1024;

function writesFor(size: number): string[] {
  return [
    `write -P 0x11 0 4096`,
    `write -P 0x22 ${64 * 1024 - 512} 1024`,
    `write -P 0x33 ${2 * MiB + 1234 * 512} ${70 * 1024}`,
    `write -P 0x44 ${size - 4096} 4096`,
  ];
}

describe("VMDK reader against qemu-img", { skip: qemuMissing }, () => {
  let dir = "";
  let cleanup = async (): Promise<void> => {};
  before(async () => ({ dir, cleanup } = await tempDir()));
  after(() => cleanup());

  async function check(file: string, opts: { sparse: boolean }): Promise<void> {
    const expected = await qemuRaw(dir, file, "vmdk");
    const disk = await openVmdk(file);
    try {
      assert.equal(disk.capacity, expected.length);
      assert.ok((await readWhole(disk)).equals(expected), "contents differ from qemu-img convert");
      const extents = await disk.allocated();
      assert.ok(zeroOutside(expected, extents), "data outside the allocated extents");
      const total = extents.reduce((n, e) => n + e.length, 0);
      if (opts.sparse) assert.ok(total <= 8 * 64 * 1024, `sparse disk reports ${total} allocated bytes`);
      else assert.equal(total, disk.capacity);
    } finally {
      await disk.close();
    }
  }

  const size = 7 * MiB + 3 * 512; // not a multiple of the 64 KiB grain
  for (const subformat of [
    "monolithicSparse",
    "monolithicFlat",
    "twoGbMaxExtentSparse",
    "twoGbMaxExtentFlat",
  ]) {
    it(`reads a ${subformat} VMDK with data at odd places and at the very end as qemu-img does`, async () => {
      const file = join(dir, `${subformat}.vmdk`);
      await qemuImg("create", "-f", "vmdk", "-o", `subformat=${subformat}`, file, String(size));
      await qemuIo("vmdk", file, ...writesFor(size));
      await check(file, { sparse: subformat.endsWith("Sparse") });
    });
  }

  it("reads a streamOptimized VMDK made by qemu-img convert (compressed grains, footer)", async () => {
    const source = join(dir, "src.vmdk");
    await qemuImg("create", "-f", "vmdk", source, String(size));
    await qemuIo("vmdk", source, ...writesFor(size));
    const file = join(dir, "stream.vmdk");
    await qemuImg("convert", "-f", "vmdk", "-O", "vmdk", "-o", "subformat=streamOptimized", source, file);
    await check(file, { sparse: true });
  });

  it("reads a monolithicSparse child through its parent (parentFileNameHint, CID checked)", async () => {
    const base = join(dir, "base.vmdk");
    await qemuImg("create", "-f", "vmdk", base, String(size));
    await qemuIo("vmdk", base, "write -P 0x55 0 1M", `write -P 0x66 ${size - MiB} 1M`);
    const child = join(dir, "child.vmdk");
    await qemuImg("create", "-f", "vmdk", "-b", "base.vmdk", "-F", "vmdk", child);
    await qemuIo("vmdk", child, "write -P 0x77 4096 8192", `write -P 0x78 ${size - 512} 512`);
    const expected = await qemuRaw(dir, child, "vmdk");
    const disk = await openVmdk(child);
    try {
      assert.ok((await readWhole(disk)).equals(expected));
      assert.ok(zeroOutside(expected, await disk.allocated()));
    } finally {
      await disk.close();
    }
  });
});
