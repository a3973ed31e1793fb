import { describe, before, after } from "node:test";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { exportDisk } from "../../src/disk/export.js";
import { openFileSource } from "../../src/disk/file-source.js";
import { openDiskImage } from "../../src/disk/open-image.js";
import { createDifferencingVhdx, createVhdx, openVhdxForWrite } from "../../src/disk/vhdx/api.js";
import { byteSourceContract, diskSourceContract } from "./contracts.js";
import { MemoryDisk } from "./memory-disk.js";
import { memoryByteSource } from "./memory-source.js";
import { openVhdxSource } from "../../src/disk/vhdx/open.js";
import { readFile } from "node:fs/promises";
import { noise } from "./patterns.js";
import { tempDir } from "./qemu.js";

const MiB = 1024 * 1024;

/** 6 MiB + 3 sectors: data at the start, zeros from 2 to 4 MiB, data to the end. */
function content(): Buffer {
  const bytes = noise(6 * MiB + 1536, 17);
  bytes.fill(0, 2 * MiB, 4 * MiB);
  return bytes;
}

describe("port contracts", () => {
  let dir = "";
  let cleanup = async (): Promise<void> => {};
  let n = 0;
  before(async () => {
    ({ dir, cleanup } = await tempDir());
    await mkdir(join(dir, "images"));
    const source = new MemoryDisk(content());
    for (const format of ["raw", "vmdk", "vmdk-sparse", "vhdx"] as const) {
      await exportDisk(source, join(dir, "images", `disk.${format}`), { format, vhdxBlockSize: MiB });
    }
    // A differencing VHDX whose parent holds the first half and the child the rest.
    const parent = await createVhdx(join(dir, "images", "parent.vhdx"), {
      virtualSize: 6 * MiB + 1536,
      blockSize: MiB,
    });
    await parent.write(content().subarray(0, 3 * MiB + 100), 0);
    await parent.close();
    const child = await createDifferencingVhdx(
      join(dir, "images", "child.avhdx"),
      join(dir, "images", "parent.vhdx"),
    );
    await child.write(content().subarray(3 * MiB + 100), 3 * MiB + 100);
    await child.close();
  });
  after(() => cleanup());

  byteSourceContract("openFileSource", async (bytes) => {
    const file = join(dir, `bytes-${n++}.bin`);
    await writeFile(file, bytes);
    return openFileSource(file);
  });

  byteSourceContract("memoryByteSource (test fake)", async (bytes) => memoryByteSource(bytes));
  diskSourceContract("VHDX over an in-memory byte source", content, async () =>
    openVhdxSource(memoryByteSource(await readFile(join(dir, "images", "disk.vhdx"))), "memory.vhdx"),
  );

  diskSourceContract("MemoryDisk (test fake)", content, async () => new MemoryDisk(content()));
  diskSourceContract("raw image", content, () => openDiskImage(join(dir, "images", "disk.raw")));
  diskSourceContract("streamOptimized VMDK", content, () => openDiskImage(join(dir, "images", "disk.vmdk")), {
    holeAt: 2 * MiB,
  });
  diskSourceContract(
    "monolithicSparse VMDK",
    content,
    () => openDiskImage(join(dir, "images", "disk.vmdk-sparse")),
    { holeAt: 2 * MiB },
  );
  diskSourceContract("dynamic VHDX", content, () => openDiskImage(join(dir, "images", "disk.vhdx")), {
    holeAt: 2 * MiB,
  });
  diskSourceContract("VHDX writer", content, () => openVhdxForWrite(join(dir, "images", "disk.vhdx")), {
    holeAt: 2 * MiB,
  });
  diskSourceContract("differencing VHDX chain", content, () =>
    openDiskImage(join(dir, "images", "child.avhdx")),
  );
});
