import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { exportDisk, type ExportFormat } from "../../src/disk/export.js";
import { openDiskImage } from "../../src/disk/open-image.js";
import { createFlatVmdk } from "../../src/disk/vmdk/flat.js";
import { qemuImg, qemuMissing, qemuRaw, readWhole, tempDir } from "./qemu.js";
import { MemoryDisk } from "./memory-disk.js";
import { noise } from "./patterns.js";
import { writeFile } from "node:fs/promises";

const MiB = 1024 * 1024;

/** 10 MiB + 3 sectors with data at the start, across a 64 KiB grain edge, mid-disk and at the very end. */
function sampleDisk(): MemoryDisk {
  const size = 10 * MiB + 1536;
  const bytes = Buffer.alloc(size);
  noise(4096, 1).copy(bytes, 0);
  noise(1000, 2).copy(bytes, 64 * 1024 - 500);
  noise(3 * MiB, 3).copy(bytes, 2 * MiB + 12345);
  noise(700, 4).copy(bytes, size - 700);
  // the map over-reports a zero area (allowed): it must stay unallocated in the export
  return new MemoryDisk(bytes, [
    { start: 0, length: 128 * 1024 },
    { start: 2 * MiB, length: 4 * MiB },
    { start: 8 * MiB, length: size - 8 * MiB },
  ]);
}

const QEMU_FORMAT: Record<ExportFormat, string> = {
  raw: "raw",
  vmdk: "vmdk",
  "vmdk-sparse": "vmdk",
  vhdx: "vhdx",
};

describe("exportDisk()", { skip: qemuMissing }, () => {
  let dir = "";
  let cleanup = async (): Promise<void> => {};
  before(async () => ({ dir, cleanup } = await tempDir()));
  after(() => cleanup());

  for (const format of ["raw", "vmdk", "vmdk-sparse", "vhdx"] as const) {
    it(`exports to ${format}: qemu-img checks it, converts it to the same bytes, and zero areas stay unallocated`, async () => {
      const disk = sampleDisk();
      const file = join(dir, `export.${format}`);
      const result = await exportDisk(disk, file, { format, vhdxBlockSize: MiB });
      assert.ok(result.dataBytes < 4 * MiB, `wrote ${result.dataBytes} data bytes`);
      if (format !== "raw") await qemuImg("check", "-f", QEMU_FORMAT[format], file);
      assert.ok(
        (await qemuRaw(dir, file, QEMU_FORMAT[format])).equals(disk.bytes),
        "qemu-img sees other bytes",
      );
      const info = await stat(file);
      assert.ok(info.blocks * 512 < 6 * MiB, `export occupies ${info.blocks * 512} bytes on disk`);

      const back = await openDiskImage(file);
      try {
        assert.equal(back.format, QEMU_FORMAT[format]);
        assert.ok((await readWhole(back)).equals(disk.bytes), "our reader sees other bytes");
        if (format !== "raw") {
          const allocated = (await back.allocated?.()) ?? [];
          const total = allocated.reduce((n, e) => n + e.length, 0);
          assert.ok(total < 7 * MiB, `${total} bytes allocated`);
        }
      } finally {
        await back.close();
      }
    });
  }

  it("refuses to overwrite an existing file and leaves it as it was", async () => {
    const file = join(dir, "exists.vhdx");
    await writeFile(file, "keep me");
    await assert.rejects(exportDisk(sampleDisk(), file, { format: "vhdx" }), { code: "DISK_IO" });
    assert.equal(await readFile(file, "utf8"), "keep me");
  });

  it("stops on abort and removes the partial file", async () => {
    const file = join(dir, "aborted.vmdk");
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(exportDisk(sampleDisk(), file, { format: "vmdk", signal: controller.signal }), {
      code: "DISK_ABORTED",
    });
    await assert.rejects(stat(file), { code: "ENOENT" });
  });
});

describe("createFlatVmdk()", { skip: qemuMissing }, () => {
  let dir = "";
  let cleanup = async (): Promise<void> => {};
  before(async () => ({ dir, cleanup } = await tempDir()));
  after(() => cleanup());

  for (const createType of ["vmfs", "monolithicFlat"] as const) {
    it(`creates a ${createType} descriptor and flat extent that qemu-img and our reader agree on`, async () => {
      const path = join(dir, `${createType}.vmdk`);
      const { extentPath } = await createFlatVmdk(path, { capacity: 3 * MiB, createType });
      const data = noise(3 * MiB, 7);
      await writeFile(extentPath, data);
      assert.ok((await qemuRaw(dir, path, "vmdk")).equals(data));
      const disk = await openDiskImage(path);
      try {
        assert.equal(disk.format, "vmdk");
        assert.ok((await readWhole(disk)).equals(data));
      } finally {
        await disk.close();
      }
    });
  }
});
