import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isSnapvisorError } from "../../src/domain/errors.js";
import {
  createDifferencingVhdx,
  createVhdx,
  describeVhdx,
  mergeDifferencingVhdx,
  openVhdxForWrite,
} from "../../src/disk/vhdx/api.js";
import { stat } from "node:fs/promises";
import { openVhdx } from "../../src/disk/vhdx/open.js";
import { openFileSource } from "../../src/disk/file-source.js";
import { PAYLOAD_FULLY_PRESENT, PAYLOAD_PARTIALLY_PRESENT } from "../../src/disk/vhdx/format.js";
import { qemuImg, qemuIo, qemuMissing, qemuRaw, readWhole, tempDir, zeroOutside } from "./qemu.js";
import { writeBoth } from "./patterns.js";

const MiB = 1024 * 1024;

describe("VHDX writer", { skip: qemuMissing }, () => {
  let dir = "";
  let cleanup = async (): Promise<void> => {};
  before(async () => ({ dir, cleanup } = await tempDir()));
  after(() => cleanup());

  for (const [sector, blockSize] of [
    [512, MiB],
    [512, 8 * MiB],
    [4096, 32 * MiB],
    [4096, MiB],
  ] as const) {
    // qemu opens only 512-byte-sector VHDX files (ENOTSUP otherwise): 4096 is checked by our reader.
    const viaQemu = sector === 512;
    it(`writes a dynamic VHDX (${sector}-byte sectors, ${blockSize / MiB} MiB blocks) that ${viaQemu ? "qemu-img checks and converts to the same bytes" : "reads back the same bytes"}`, async () => {
      const size = 9 * MiB + 8 * sector;
      const file = join(dir, `dyn-${sector}-${blockSize}.vhdx`);
      const model = Buffer.alloc(size);
      const writer = await createVhdx(file, { virtualSize: size, blockSize, logicalSectorSize: sector });
      await writeBoth(model, writer, [
        [100, 3000, 1],
        [MiB - 7, 20, 2],
        [4 * MiB + 3, 2 * MiB + 5, 3],
        [size - 1000, 1000, 4],
      ]);
      await writer.write(new Uint8Array(64 * 1024), 7 * MiB); // zeros into a hole stay a hole
      await writer.close();
      if (viaQemu) {
        await qemuImg("check", "-f", "vhdx", file);
        assert.ok((await qemuRaw(dir, file, "vhdx")).equals(model), "qemu-img sees other bytes");
      }

      const reopened = await openVhdxForWrite(file);
      await writeBoth(model, reopened, [
        [2 * MiB + 1, 10, 5],
        [50, 10, 6],
      ]);
      await reopened.close();
      if (viaQemu) {
        await qemuImg("check", "-f", "vhdx", file);
        assert.ok(
          (await qemuRaw(dir, file, "vhdx")).equals(model),
          "qemu-img sees other bytes after reopening",
        );
      }
      const disk = await openVhdx(file);
      try {
        assert.ok((await readWhole(disk)).equals(model));
        assert.equal(disk.layout.metadata.logicalSectorSize, sector);
        // the zeros written at 7 MiB allocated nothing
        const holeBlock = Math.floor((7 * MiB) / blockSize);
        if (blockSize === MiB) assert.notEqual(disk.blockEntry(holeBlock).state, PAYLOAD_FULLY_PRESENT);
        assert.ok(zeroOutside(model, await disk.allocated()));
      } finally {
        await disk.close();
      }
    });
  }

  it("writes a fixed VHDX that qemu-img reads back", async () => {
    const file = join(dir, "fixed.vhdx");
    const model = Buffer.alloc(3 * MiB);
    const writer = await createVhdx(file, { virtualSize: model.length, blockSize: MiB, fixed: true });
    await writeBoth(model, writer, [[MiB - 1, 2, 9]]);
    await writer.close();
    await qemuImg("check", "-f", "vhdx", file);
    assert.ok((await qemuRaw(dir, file, "vhdx")).equals(model));
    assert.equal((await describeVhdx(file)).vhdType, "Fixed");
  });

  it("reads a differencing VHDX through its qemu-made parent, sector bitmaps picking child or parent", async () => {
    const size = 6 * MiB + 4096;
    const parentFile = join(dir, "base.vhdx");
    await qemuImg("create", "-f", "vhdx", "-o", "block_size=1M", parentFile, String(size));
    await qemuIo("vhdx", parentFile, "write -P 0x5a 0 3M", `write -P 0x6b ${size - 8192} 8192`);
    const model = await qemuRaw(dir, parentFile, "vhdx");

    const child = await createDifferencingVhdx(join(dir, "child.avhdx"), parentFile);
    await writeBoth(model, child, [
      [513, 100, 11], // inside one sector: the rest of the sector keeps the parent's bytes
      [MiB + 4096, 4096, 12],
      [4 * MiB - 3, 10, 13], // across a block boundary, into a block the parent never wrote
      [size - 700, 700, 14],
    ]);
    assert.ok((await readWhole(child)).equals(model), "the writer reads other bytes");
    await child.close();

    const disk = await openVhdx(join(dir, "child.avhdx"));
    try {
      assert.ok((await readWhole(disk)).equals(model), "the reader sees other bytes");
      assert.equal(disk.blockEntry(0).state, PAYLOAD_PARTIALLY_PRESENT);
      assert.ok(zeroOutside(model, await disk.allocated()));
    } finally {
      await disk.close();
    }
    // the parent is untouched
    assert.ok((await qemuRaw(dir, parentFile, "vhdx")).subarray(0, 1024).every((b) => b === 0x5a));
  });

  it("continues writing a reopened differencing VHDX and fills whole blocks as fully present", async () => {
    const parentFile = join(dir, "base2.vhdx");
    const base = await createVhdx(parentFile, {
      virtualSize: 4 * MiB,
      blockSize: MiB,
      logicalSectorSize: 4096,
    });
    const model = Buffer.alloc(4 * MiB);
    await writeBoth(model, base, [[0, 4 * MiB, 21]]);
    await base.close();
    const childFile = join(dir, "sub", "child2.avhdx");
    await import("node:fs/promises").then((fs) => fs.mkdir(join(dir, "sub")));
    await (await createDifferencingVhdx(childFile, parentFile)).close();
    const again = await openVhdxForWrite(childFile);
    await writeBoth(model, again, [
      [MiB, MiB, 22],
      [3 * MiB + 5, 5, 23],
    ]);
    await again.close();
    const grandchildFile = join(dir, "grandchild.avhdx");
    const grandchild = await createDifferencingVhdx(grandchildFile, childFile);
    await writeBoth(model, grandchild, [[2 * MiB - 1, 2, 24]]);
    await grandchild.close();

    const info = await describeVhdx(grandchildFile);
    assert.deepEqual(
      [info.vhdType, info.size, info.parentPath, info.logicalSectorSize, info.blockSize],
      ["Differencing", 4 * MiB, childFile, 4096, MiB],
    );
    assert.equal((await describeVhdx(parentFile)).vhdType, "Dynamic");
    const disk = await openVhdx(grandchildFile);
    try {
      assert.ok((await readWhole(disk)).equals(model));
    } finally {
      await disk.close();
    }
    const childDisk = await openVhdx(childFile);
    try {
      assert.equal(childDisk.blockEntry(1).state, PAYLOAD_FULLY_PRESENT);
      assert.equal(childDisk.blockEntry(3).state, PAYLOAD_PARTIALLY_PRESENT);
    } finally {
      await childDisk.close();
    }
  });

  it("merges a differencing VHDX into its qemu-made parent and deletes it, as a checkpoint deletion does", async () => {
    const size = 5 * MiB;
    const parentFile = join(dir, "merge-base.vhdx");
    await qemuImg("create", "-f", "vhdx", "-o", "block_size=1M", parentFile, String(size));
    await qemuIo("vhdx", parentFile, "write -P 0x5a 0 2M", `write -P 0x6b ${4 * MiB} 1M`);
    const model = await qemuRaw(dir, parentFile, "vhdx");
    const childFile = join(dir, "merge-child.avhdx");
    const child = await createDifferencingVhdx(childFile, parentFile);
    await writeBoth(model, child, [
      [100, 1000, 31],
      [MiB, MiB, 32], // a whole block: fully present
      [3 * MiB + 4096, 8192, 33], // into a block the parent never allocated
    ]);
    await child.close();
    const result = await mergeDifferencingVhdx(childFile);
    assert.equal(result.parentPath, parentFile);
    await assert.rejects(stat(childFile), { code: "ENOENT" });
    await qemuImg("check", "-f", "vhdx", parentFile);
    assert.ok((await qemuRaw(dir, parentFile, "vhdx")).equals(model), "the merged parent differs");
  });

  it("maps a differencing VHDX reading only the sector bits of its partial blocks, not whole bitmaps", async () => {
    const parentFile = join(dir, "map-base.vhdx");
    await (await createVhdx(parentFile, { virtualSize: 8 * MiB, blockSize: MiB })).close();
    const childFile = join(dir, "map-child.avhdx");
    const child = await createDifferencingVhdx(childFile, parentFile);
    await child.write(new Uint8Array(512).fill(1), 3 * 512);
    await child.write(new Uint8Array(512).fill(2), 5 * MiB + 512);
    await child.close();
    let bytesRead = 0;
    const disk = await openVhdx(childFile, {
      openFile: async (path) => {
        const source = await openFileSource(path);
        return {
          size: source.size,
          read: async (offset, length, signal) => {
            if (path === childFile) bytesRead += length;
            return source.read(offset, length, signal);
          },
          close: () => source.close(),
        };
      },
    });
    try {
      bytesRead = 0;
      assert.deepEqual(await disk.allocated(), [
        { start: 3 * 512, length: 512 },
        { start: 5 * MiB + 512, length: 512 },
      ]);
      assert.ok(bytesRead <= 64 * 1024, `${bytesRead} bytes of the child read to map it`);
    } finally {
      await disk.close();
    }
  });

  it("refuses a differencing VHDX whose parent was written after the child was made", async () => {
    const parentFile = join(dir, "base3.vhdx");
    await (await createVhdx(parentFile, { virtualSize: MiB * 2, blockSize: MiB })).close();
    await (await createDifferencingVhdx(join(dir, "child3.avhdx"), parentFile)).close();
    const parent = await openVhdxForWrite(parentFile);
    await parent.write(new Uint8Array([1]), 0);
    await parent.close();
    await assert.rejects(openVhdx(join(dir, "child3.avhdx")), (err) =>
      isSnapvisorError(err, "VHDX_PARENT_INVALID"),
    );
  });

  it("refuses a differencing VHDX whose parent is missing", async () => {
    const parentFile = join(dir, "base4.vhdx");
    await (await createVhdx(parentFile, { virtualSize: MiB, blockSize: MiB })).close();
    await (await createDifferencingVhdx(join(dir, "child4.avhdx"), parentFile)).close();
    await writeFile(parentFile, await readFile(join(dir, "fixed.vhdx")));
    await assert.rejects(openVhdx(join(dir, "child4.avhdx")), (err) =>
      isSnapvisorError(err, "VHDX_PARENT_INVALID"),
    );
  });
});
