import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isSnapvisorError } from "../../src/domain/errors.js";
import { openFileSource } from "../../src/disk/file-source.js";
import { openDiskImage } from "../../src/disk/open-image.js";
import { noise } from "./patterns.js";
import { qemuImg, qemuMissing, tempDir } from "./qemu.js";

describe("openDiskImage() and the local file source", () => {
  let dir = "";
  let cleanup = async (): Promise<void> => {};
  before(async () => ({ dir, cleanup } = await tempDir()));
  after(() => cleanup());

  it("opens a file without a known signature as a raw disk covering the whole file", async () => {
    const file = join(dir, "disk.img");
    const data = noise(100_000, 3);
    await writeFile(file, data);
    const disk = await openDiskImage(file);
    try {
      assert.equal(disk.format, "raw");
      assert.equal(disk.capacity, data.length);
      assert.deepEqual(await disk.allocated?.(), [{ start: 0, length: data.length }]);
      const tail = new Uint8Array(1000);
      assert.equal(await disk.read(tail, data.length - 400), 400);
      assert.ok(Buffer.from(tail.subarray(0, 400)).equals(data.subarray(data.length - 400)));
      await assert.rejects(disk.read(tail, data.length + 1), (e) => isSnapvisorError(e, "DISK_OUT_OF_RANGE"));
    } finally {
      await disk.close();
    }
  });

  it("reads short only at the end of a file, and refuses negative offsets", async () => {
    const file = join(dir, "bytes.bin");
    await writeFile(file, Buffer.from("0123456789"));
    const source = await openFileSource(file);
    try {
      assert.equal(source.size, 10);
      assert.equal(Buffer.from(await source.read(7, 10)).toString(), "789");
      assert.equal((await source.read(20, 10)).length, 0);
      await assert.rejects(source.read(-1, 1), (e) => isSnapvisorError(e, "DISK_OUT_OF_RANGE"));
    } finally {
      await source.close();
    }
  });

  it("reports a missing file as DISK_IO", async () => {
    await assert.rejects(openDiskImage(join(dir, "nope.vhdx")), (e) => isSnapvisorError(e, "DISK_IO"));
  });

  it(
    "refuses a qcow2 image made by qemu-img with DISK_FORMAT_UNSUPPORTED",
    { skip: qemuMissing },
    async () => {
      const file = join(dir, "disk.qcow2");
      await qemuImg("create", "-f", "qcow2", file, "1M");
      await assert.rejects(
        openDiskImage(file),
        (e) => isSnapvisorError(e, "DISK_FORMAT_UNSUPPORTED") && /qcow2/.test((e as Error).message),
      );
    },
  );
});
