import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isSnapvisorError } from "../../src/domain/errors.js";
import { openDiskImage } from "../../src/disk/open-image.js";
import { buildDifferencingVhd } from "./vhd-files.js";
import { noise } from "./patterns.js";
import { qemuImg, qemuIo, qemuMissing, qemuRaw, readWhole, tempDir, zeroOutside } from "./qemu.js";

const MiB = 1024 * 1024;

describe("VHD (v1) reader against qemu-img", { skip: qemuMissing }, () => {
  let dir = "";
  let cleanup = async (): Promise<void> => {};
  before(async () => ({ dir, cleanup } = await tempDir()));
  after(() => cleanup());

  for (const [subformat, forceSize] of [
    ["dynamic", true],
    ["fixed", true],
    ["dynamic", false],
  ] as const) {
    it(`reads a ${subformat} VHD ${forceSize ? "(exact size)" : "(size from CHS geometry)"} as qemu-img does`, async () => {
      const file = join(dir, `${subformat}-${forceSize}.vhd`);
      await qemuImg(
        "create",
        "-f",
        "vpc",
        "-o",
        `subformat=${subformat},force_size=${forceSize ? "on" : "off"}`,
        file,
        String(9 * MiB + 4096),
      );
      // qemu reports a fixed VHD's size as the file length, footer included (a qemu quirk): the
      // footer's current size is the disk's size, so that last sector is left out of the comparison.
      const qemuSize = Number(/virtual size: .*\((\d+) bytes\)/.exec(await qemuImg("info", file))?.[1]);
      const size = subformat === "fixed" ? qemuSize - 512 : qemuSize;
      await qemuIo(
        "vpc",
        file,
        "write -P 0x11 0 4096",
        `write -P 0x22 ${2 * MiB - 512} 1024`,
        `write -P 0x33 ${size - 4096} 4096`,
      );
      const expected = (await qemuRaw(dir, file, "vpc")).subarray(0, size);
      const disk = await openDiskImage(file);
      try {
        assert.equal(disk.format, "vhd");
        assert.equal(disk.capacity, expected.length);
        assert.ok((await readWhole(disk)).equals(expected));
        const extents = await disk.allocated!();
        assert.ok(zeroOutside(expected, extents));
        if (subformat === "dynamic") assert.ok(extents.reduce((n, e) => n + e.length, 0) <= 3 * 2 * MiB);
      } finally {
        await disk.close();
      }
    });
  }

  it("reads a differencing VHD through its parent, sector by sector (MSB-first bitmaps)", async () => {
    const size = 6 * MiB;
    const parentFile = join(dir, "parent.vhd");
    await qemuImg("create", "-f", "vpc", "-o", "subformat=dynamic,force_size=on", parentFile, String(size));
    await qemuIo("vpc", parentFile, "write -P 0x44 0 3M");
    const model = await qemuRaw(dir, parentFile, "vpc");
    const sectors = new Map<number, Uint8Array>();
    for (const s of [0, 1, 9, 4095, 4096, 8191, size / 512 - 1]) {
      const data = noise(512, s + 3);
      sectors.set(s, data);
      data.forEach((b, i) => (model[s * 512 + i] = b));
    }
    const parentBytes = await readFile(parentFile);
    const child = join(dir, "child.avhd");
    await writeFile(
      child,
      buildDifferencingVhd(size, parentBytes.subarray(parentBytes.length - 512), ".\\parent.vhd", sectors),
    );
    const disk = await openDiskImage(child);
    try {
      assert.ok((await readWhole(disk)).equals(model));
      assert.ok(zeroOutside(model, await disk.allocated!()));
    } finally {
      await disk.close();
    }

    // The same child over a parent with another unique id (a re-created parent) is refused.
    const orphan = join(dir, "orphan.avhd");
    const otherFooter = Buffer.from(parentBytes.subarray(parentBytes.length - 512));
    otherFooter[70] = (otherFooter[70] ?? 0) ^ 0xff;
    await writeFile(orphan, buildDifferencingVhd(size, otherFooter, ".\\parent.vhd", sectors));
    await assert.rejects(
      openDiskImage(orphan),
      (e) => isSnapvisorError(e, "VHD_INVALID") && /unique id/.test(String(e)),
    );
  });

  it("refuses a VHD with a damaged footer checksum and BAT entries past the end", async () => {
    const file = join(dir, "bad.vhd");
    await qemuImg("create", "-f", "vpc", "-o", "subformat=fixed,force_size=on", file, "1M");
    const bytes = await readFile(file);
    bytes[bytes.length - 512 + 100] = 0x42;
    await writeFile(file, bytes);
    // The footer is the only thing that makes it a VHD: with a bad checksum it is refused, not read as raw.
    await assert.rejects(openDiskImage(file), (e) => isSnapvisorError(e, "VHD_INVALID"));

    const dyn = join(dir, "bad-bat.vhd");
    await qemuImg("create", "-f", "vpc", "-o", "subformat=dynamic,force_size=on", dyn, "4M");
    const d = await readFile(dyn);
    d.writeUInt32BE(0x00ffffff, 1536); // BAT entry 0 -> far past the end
    await writeFile(dyn, d);
    await assert.rejects(openDiskImage(dyn), (e) => isSnapvisorError(e, "VHD_INVALID"));
  });
});
