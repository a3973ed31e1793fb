import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { copyFile, open, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isSnapvisorError } from "../../src/domain/errors.js";
import { putU64 } from "../../src/disk/bytes.js";
import { exportDisk } from "../../src/disk/export.js";
import { openDiskImage } from "../../src/disk/open-image.js";
import { openVmdk } from "../../src/disk/vmdk/open.js";
import { MemoryDisk } from "./memory-disk.js";
import { noise } from "./patterns.js";
import { readWhole, tempDir } from "./qemu.js";

const MiB = 1024 * 1024;

function rejectsWith(code: string) {
  return (err: unknown): boolean => {
    assert.ok(isSnapvisorError(err, code), `expected ${code}, got ${String(err)}`);
    return true;
  };
}

function descriptor(extentLine: string, extra = ""): string {
  return `# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType="vmfs"\n${extra}\n${extentLine}\n`;
}

describe("VMDK reader on hostile and damaged files", () => {
  let dir = "";
  let cleanup = async (): Promise<void> => {};
  let stream = "";
  let sparse = "";
  before(async () => {
    ({ dir, cleanup } = await tempDir());
    const disk = new MemoryDisk(noise(2 * MiB, 3));
    stream = join(dir, "stream.vmdk");
    sparse = join(dir, "sparse.vmdk");
    await exportDisk(disk, stream, { format: "vmdk" });
    await exportDisk(disk, sparse, { format: "vmdk-sparse" });
    await writeFile(join(dir, "ok-flat.vmdk"), Buffer.alloc(MiB));
  });
  after(() => cleanup());

  const hostile: [string, string, string][] = [
    ["a parent-directory extent path", `RW 2048 VMFS "../../etc/passwd"`, "VMDK_EXTENT_INVALID"],
    ["an absolute extent path", `RW 2048 VMFS "/etc/passwd"`, "VMDK_EXTENT_INVALID"],
    ["a Windows drive path", `RW 2048 FLAT "C:\\\\Windows\\\\x.vmdk" 0`, "VMDK_EXTENT_INVALID"],
    ["a URL extent", `RW 2048 VMFS "vsan://abc/def"`, "VMDK_EXTENT_INVALID"],
    ["an extent larger than its file", `RW 4096 VMFS "ok-flat.vmdk"`, "VMDK_EXTENT_INVALID"],
    ["a missing extent file", `RW 2048 VMFS "missing-flat.vmdk"`, "VMDK_EXTENT_INVALID"],
    ["an unknown extent type", `RW 2048 TAPE "ok-flat.vmdk"`, "VMDK_DESCRIPTOR_INVALID"],
    ["a garbled line", `RW lots VMFS "ok-flat.vmdk"`, "VMDK_DESCRIPTOR_INVALID"],
    ["a size above 2^53 bytes", `RW 99999999999999999999 VMFS "ok-flat.vmdk"`, "VMDK_DESCRIPTOR_INVALID"],
    [
      "a VMFSSPARSE extent that is not a COWD file",
      `RW 2048 VMFSSPARSE "ok-flat.vmdk"`,
      "VMDK_SPARSE_INVALID",
    ],
    [
      "a SESPARSE extent that is not an SEsparse file",
      `RW 2048 SESPARSE "ok-flat.vmdk"`,
      "VMDK_SPARSE_INVALID",
    ],
    ["a raw device mapping", `RW 2048 VMFSRDM "disk-rdm.vmdk"`, "DISK_FORMAT_UNSUPPORTED"],
  ];
  for (const [what, line, code] of hostile) {
    it(`refuses a descriptor with ${what} (${code})`, async () => {
      const file = join(dir, `d-${what.replace(/\W+/g, "-")}.vmdk`);
      await writeFile(file, descriptor(line));
      await assert.rejects(openDiskImage(file), rejectsWith(code));
    });
  }

  it("refuses a vSAN delta (its data is not in files)", async () => {
    const file = join(dir, "vsan.vmdk");
    await writeFile(
      file,
      descriptor(`RW 2048 VMFSSPARSE "vsan-delta.vmdk"`).replace(
        'createType="vmfs"',
        'createType="vsanSparse"',
      ),
    );
    await assert.rejects(openDiskImage(file), (e) => isSnapvisorError(e, "VMDK_DELTA_UNSUPPORTED"));
  });

  it("refuses binary garbage after a descriptor header", async () => {
    const file = join(dir, "garbage.vmdk");
    await writeFile(
      file,
      Buffer.concat([Buffer.from('# Disk DescriptorFile\ncreateType="vmfs"\n'), noise(300, 9)]),
    );
    await assert.rejects(openDiskImage(file), rejectsWith("VMDK_DESCRIPTOR_INVALID"));
  });

  it("refuses a flat descriptor that claims a parent (parentCID set)", async () => {
    const file = join(dir, "orphan.vmdk");
    await writeFile(
      file,
      descriptor(`RW 2048 VMFS "ok-flat.vmdk"`).replace("parentCID=ffffffff", "parentCID=0badcafe"),
    );
    await assert.rejects(openDiskImage(file), rejectsWith("VMDK_DELTA_UNSUPPORTED"));
  });

  it("refuses a descriptor that names itself as its parent (a cycle) instead of recursing forever", async () => {
    const file = join(dir, "self.vmdk");
    await writeFile(
      file,
      `# Disk DescriptorFile\nversion=1\nCID=0badf00d\nparentCID=0badf00d\nparentFileNameHint="self.vmdk"\ncreateType="twoGbMaxExtentSparse"\nRW 4096 SPARSE "sparse.vmdk"\n`,
    );
    await assert.rejects(openDiskImage(file, { maxChainDepth: 8 }), rejectsWith("VMDK_DESCRIPTOR_INVALID"));
  });

  it("reads a valid descriptor with a ZERO extent and a flat extent", async () => {
    const file = join(dir, "zero-flat.vmdk");
    await writeFile(join(dir, "data-flat.vmdk"), noise(MiB, 4));
    await writeFile(file, descriptor(`RW 2048 ZERO\nRW 2048 VMFS "data-flat.vmdk"`));
    const disk = await openVmdk(file);
    try {
      const bytes = await readWhole(disk);
      assert.equal(bytes.length, 2 * MiB);
      assert.ok(bytes.subarray(0, MiB).every((b) => b === 0));
      assert.ok(bytes.subarray(MiB).equals(noise(MiB, 4)));
    } finally {
      await disk.close();
    }
  });

  it("refuses a sparse VMDK whose grain directory points past the file end", async () => {
    const file = join(dir, "bad-gd.vmdk");
    await copyFile(sparse, file);
    const bytes = await readFile(file);
    const gdSector = Number(bytes.readBigUInt64LE(56));
    bytes.writeUInt32LE(0x7fffffff, gdSector * 512);
    await writeFile(file, bytes);
    await assert.rejects(openVmdk(file), rejectsWith("VMDK_SPARSE_INVALID"));
  });

  it("refuses a sparse header with a capacity above 2^53 bytes", async () => {
    const file = join(dir, "huge.vmdk");
    await copyFile(sparse, file);
    const fh = await open(file, "r+");
    const header = new Uint8Array(8);
    putU64(header, 0, 2n ** 60n);
    await fh.write(header, 0, 8, 12);
    await fh.close();
    await assert.rejects(openVmdk(file), rejectsWith("VMDK_SPARSE_INVALID"));
  });

  it("reports a damaged compressed grain of a streamOptimized VMDK", async () => {
    const file = join(dir, "bad-grain.vmdk");
    await copyFile(stream, file);
    const bytes = await readFile(file);
    const overHead = Number(bytes.readBigUInt64LE(64));
    bytes.fill(0x55, overHead * 512 + 12, overHead * 512 + 40); // the first grain's deflate stream
    await writeFile(file, bytes);
    const disk = await openVmdk(file);
    try {
      await assert.rejects(disk.read(new Uint8Array(4096), 0), rejectsWith("VMDK_GRAIN_INVALID"));
    } finally {
      await disk.close();
    }
  });

  it("refuses a streamOptimized VMDK cut before its footer", async () => {
    const file = join(dir, "cut.vmdk");
    const bytes = await readFile(stream);
    await writeFile(file, bytes.subarray(0, bytes.length - 2048));
    await assert.rejects(openVmdk(file), rejectsWith("VMDK_SPARSE_INVALID"));
  });
});
