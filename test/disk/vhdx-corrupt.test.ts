import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { copyFile, open, truncate } from "node:fs/promises";
import { join } from "node:path";
import { isSnapvisorError } from "../../src/domain/errors.js";
import { putGuid, putU32, putU64 } from "../../src/disk/bytes.js";
import { crc32c } from "../../src/disk/crc32c.js";
import { createVhdx } from "../../src/disk/vhdx/api.js";
import { openVhdx } from "../../src/disk/vhdx/open.js";
import { openDiskImage } from "../../src/disk/open-image.js";
import { tempDir, readWhole } from "./qemu.js";
import { noise } from "./patterns.js";

const MiB = 1024 * 1024;
const KiB = 1024;

async function patch(
  path: string,
  offset: number,
  edit: (bytes: Uint8Array) => void,
  length = 4096,
): Promise<void> {
  const fh = await open(path, "r+");
  try {
    const bytes = new Uint8Array(length);
    await fh.read(bytes, 0, length, offset);
    edit(bytes);
    await fh.write(bytes, 0, length, offset);
  } finally {
    await fh.close();
  }
}

/** Recomputes the CRC-32C of a header (4 KiB) or region table (64 KiB) after an edit. */
function reseal(bytes: Uint8Array): void {
  putU32(bytes, 4, 0);
  putU32(bytes, 4, crc32c(bytes));
}

function rejectsWith(code: string) {
  return (err: unknown): boolean => {
    assert.ok(isSnapvisorError(err, code), `expected ${code}, got ${String(err)}`);
    return true;
  };
}

describe("VHDX reader on damaged files", () => {
  let dir = "";
  let cleanup = async (): Promise<void> => {};
  let good = "";
  let n = 0;
  const expected = noise(3 * MiB, 5);
  before(async () => {
    ({ dir, cleanup } = await tempDir());
    good = join(dir, "good.vhdx");
    const w = await createVhdx(good, { virtualSize: 4 * MiB, blockSize: MiB });
    await w.write(expected, 0);
    await w.close();
  });
  after(() => cleanup());
  async function copy(): Promise<string> {
    const file = join(dir, `copy-${n++}.vhdx`);
    await copyFile(good, file);
    return file;
  }

  it("opens with one damaged header, using the other", async () => {
    const file = await copy();
    // The current header is the one with the higher sequence number; damage both in turn.
    for (const at of [64 * KiB, 128 * KiB]) {
      const one = await copy();
      await patch(one, at + 100, (b) => (b[0] = (b[0] ?? 0) ^ 0xff), 1);
      const disk = await openVhdx(one);
      assert.ok((await readWhole(disk)).subarray(0, expected.length).equals(expected));
      await disk.close();
    }
    await patch(file, 64 * KiB + 100, (b) => (b[0] = 1), 1);
    await patch(file, 128 * KiB + 100, (b) => (b[0] = 1), 1);
    await assert.rejects(openVhdx(file), rejectsWith("VHDX_HEADER_INVALID"));
  });

  it("refuses a file whose log must be replayed (LogGuid set, CRC valid)", async () => {
    const file = await copy();
    for (const at of [64 * KiB, 128 * KiB]) {
      await patch(file, at, (b) => {
        putGuid(b, 48, "01234567-89AB-CDEF-0123-456789ABCDEF");
        reseal(b);
      });
    }
    await assert.rejects(openVhdx(file), rejectsWith("VHDX_LOG_REPLAY_REQUIRED"));
  });

  it("refuses damaged region tables (bad CRC in both copies)", async () => {
    const file = await copy();
    await patch(file, 192 * KiB + 20, (b) => (b[0] = 0x7f), 1);
    await patch(file, 256 * KiB + 20, (b) => (b[0] = 0x7f), 1);
    await assert.rejects(openVhdx(file), rejectsWith("VHDX_REGION_INVALID"));
  });

  it("refuses an unknown required region", async () => {
    const file = await copy();
    for (const at of [192 * KiB, 256 * KiB]) {
      await patch(
        file,
        at,
        (b) => {
          putGuid(b, 16, "11111111-2222-3333-4444-555555555555"); // first entry's GUID
          reseal(b);
        },
        64 * KiB,
      );
    }
    await assert.rejects(openVhdx(file), rejectsWith("VHDX_REGION_INVALID"));
  });

  it("refuses a metadata region too large to be real instead of allocating it", async () => {
    const file = await copy();
    await truncate(file, 200 * MiB); // sparse: the region fits in the file
    for (const at of [192 * KiB, 256 * KiB]) {
      await patch(
        file,
        at,
        (b) => {
          // The metadata region is the second entry written by our writer (BAT first): move it
          // past the BAT and make it 128 MiB long.
          putU64(b, 16 + 32 + 16, 64 * MiB);
          putU32(b, 16 + 32 + 24, 128 * MiB);
          reseal(b);
        },
        64 * KiB,
      );
    }
    await assert.rejects(
      openVhdx(file),
      (err) =>
        rejectsWith("VHDX_REGION_INVALID")(err) && /128 MiB|134217728-byte metadata region/.test(String(err)),
    );
  });

  it("refuses garbage metadata", async () => {
    const file = await copy();
    await patch(file, 2 * MiB, (b) => b.fill(0x41, 0, 8), 8);
    await assert.rejects(openVhdx(file), rejectsWith("VHDX_METADATA_INVALID"));
  });

  it("refuses a truncated file whose BAT points past its end", async () => {
    const file = await copy();
    await truncate(file, 5 * MiB);
    await assert.rejects(openVhdx(file), rejectsWith("VHDX_BAT_INVALID"));
  });

  it("refuses a file cut inside its header section", async () => {
    const file = await copy();
    await truncate(file, 300 * KiB);
    await assert.rejects(openDiskImage(file), rejectsWith("VHDX_HEADER_INVALID"));
  });
});
