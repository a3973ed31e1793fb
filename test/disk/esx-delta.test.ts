import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isSnapvisorError } from "../../src/domain/errors.js";
import { openDiskImage } from "../../src/disk/open-image.js";
import { openFileSource } from "../../src/disk/file-source.js";
import { formatDescriptor } from "../../src/disk/vmdk/descriptor.js";
import { createFlatVmdk } from "../../src/disk/vmdk/flat.js";
import { buildCowd, buildSeSparse } from "./esx-delta-files.js";
import { noise } from "./patterns.js";
import { qemuMissing, qemuRaw, readWhole, tempDir, zeroOutside } from "./qemu.js";

const MiB = 1024 * 1024;
const SIZE = 33 * MiB + 4096; // more than two SEsparse directory entries (16 MiB each)

describe(
  "ESXi snapshot deltas (vmfsSparse, seSparse) read through their flat parent",
  { skip: qemuMissing },
  () => {
    let dir = "";
    let cleanup = async (): Promise<void> => {};
    let base: Buffer;
    before(async () => {
      ({ dir, cleanup } = await tempDir());
      base = noise(SIZE, 77);
      base.fill(0, 10 * MiB, 20 * MiB); // a hole the parent never wrote
      const { extentPath } = await createFlatVmdk(join(dir, "base.vmdk"), {
        capacity: SIZE,
        cid: "0000abcd",
      });
      await writeFile(extentPath, base);
    });
    after(() => cleanup());

    async function writeDelta(
      name: string,
      createType: string,
      extentType: string,
      extent: Buffer,
    ): Promise<string> {
      const file = `${name}-${extentType === "SESPARSE" ? "sesparse" : "delta"}.vmdk`;
      await writeFile(join(dir, file), extent);
      const descriptor = join(dir, `${name}.vmdk`);
      const text = formatDescriptor({
        createType,
        cid: "12340001",
        parentCid: "0000abcd",
        extents: [{ access: "RW", sectors: SIZE / 512, type: extentType as "VMFSSPARSE", file, offset: 0 }],
      }).replace("createType=", 'parentFileNameHint="base.vmdk"\ncreateType=');
      await writeFile(descriptor, text);
      return descriptor;
    }

    async function check(descriptor: string, expected: Buffer): Promise<void> {
      const reference = await qemuRaw(dir, descriptor, "vmdk");
      assert.ok(reference.equals(expected), "qemu disagrees with the test's model of the delta");
      const disk = await openDiskImage(descriptor);
      try {
        assert.ok((await readWhole(disk)).equals(expected), "our reader disagrees with qemu");
        assert.ok(zeroOutside(expected, await disk.allocated!()));
      } finally {
        await disk.close();
      }
    }

    it("reads a vmfsSparse (COWD) delta: 512-byte grains over the parent, emptied grains as zeros", async () => {
      const expected = Buffer.from(base);
      const grains = new Map<number, Uint8Array>();
      for (const sector of [0, 1, 7, 4095, 4096, 10 * 2048 + 5, SIZE / 512 - 1]) {
        const data = noise(512, sector + 1);
        grains.set(sector, data);
        data.forEach((b, i) => (expected[sector * 512 + i] = b));
      }
      const zeroed = [100, 101];
      for (const s of zeroed) expected.fill(0, s * 512, s * 512 + 512);
      await check(
        await writeDelta("cowd", "vmfsSparse", "VMFSSPARSE", buildCowd(SIZE / 512, grains, zeroed)),
        expected,
      );
    });

    it("reads a seSparse delta: swizzled grain indexes, tables out of order, zero and unmapped grains", async () => {
      const expected = Buffer.from(base);
      const grains = new Map<number, Uint8Array>();
      for (const grain of [0, 3, 4095, 4096, 2560 + 1, 9000, SIZE / 4096 - 1]) {
        const data = noise(4096, grain + 5);
        grains.set(grain, data);
        data.copy(expected, grain * 4096);
      }
      const zero = [10];
      const unmapped = [4097];
      for (const g of [...zero, ...unmapped]) expected.fill(0, g * 4096, g * 4096 + 4096);
      await check(
        await writeDelta("se", "seSparse", "SESPARSE", buildSeSparse(SIZE / 512, grains, zero, unmapped)),
        expected,
      );
    });

    it("maps a delta's allocation with a few large reads of its grain tables (remote sources pay per read)", async () => {
      const grains = new Map<number, Uint8Array>();
      for (let mib = 0; mib < 32; mib += 2) grains.set((mib * MiB) / 512 + 7, noise(512, mib + 1)); // one grain table every 2 MiB
      const descriptor = await writeDelta(
        "many-tables",
        "vmfsSparse",
        "VMFSSPARSE",
        buildCowd(SIZE / 512, grains),
      );
      const reads = new Map<string, number>();
      const disk = await openDiskImage(descriptor, {
        openFile: async (path) => {
          const source = await openFileSource(path);
          return {
            size: source.size,
            read: (offset, length, signal) => {
              reads.set(path, (reads.get(path) ?? 0) + 1);
              return source.read(offset, length, signal);
            },
            close: () => source.close(),
          };
        },
      });
      try {
        reads.clear();
        // The flat parent has no map, so the union covers the disk; what matters is how it was read.
        assert.deepEqual(await disk.allocated!(), [{ start: 0, length: SIZE }]);
        const deltaReads = reads.get(join(dir, "many-tables-delta.vmdk")) ?? 0;
        assert.ok(deltaReads <= 2, `${deltaReads} reads of the delta for 16 grain tables`);
      } finally {
        await disk.close();
      }
    });

    it("follows an absolute ESXi parentFileNameHint through mapParentPath (a linked clone in another folder)", async () => {
      const { mkdir } = await import("node:fs/promises");
      await mkdir(join(dir, "clone"));
      const sectors = new Map([[3, noise(512, 99)]]);
      await writeFile(join(dir, "clone", "clone-delta.vmdk"), buildCowd(SIZE / 512, sectors));
      const descriptor = join(dir, "clone", "clone.vmdk");
      const text = formatDescriptor({
        createType: "vmfsSparse",
        cid: "12340002",
        parentCid: "0000abcd",
        extents: [
          { access: "RW", sectors: SIZE / 512, type: "VMFSSPARSE", file: "clone-delta.vmdk", offset: 0 },
        ],
      }).replace("createType=", 'parentFileNameHint="/vmfs/volumes/ds1/base.vmdk"\ncreateType=');
      await writeFile(descriptor, text);
      await assert.rejects(openDiskImage(descriptor), (e) => isSnapvisorError(e, "VMDK_DELTA_UNSUPPORTED"));
      const disk = await openDiskImage(descriptor, {
        mapParentPath: (p) =>
          p.startsWith("/vmfs/volumes/ds1/") ? join(dir, p.slice("/vmfs/volumes/ds1/".length)) : undefined,
      });
      try {
        const expected = Buffer.from(base);
        noise(512, 99).copy(expected, 3 * 512);
        assert.ok((await readWhole(disk)).equals(expected));
      } finally {
        await disk.close();
      }
    });

    it("refuses a delta whose parent has another CID", async () => {
      const descriptor = await writeDelta(
        "wrong",
        "vmfsSparse",
        "VMFSSPARSE",
        buildCowd(SIZE / 512, new Map()),
      );
      const { readFile } = await import("node:fs/promises");
      await writeFile(
        descriptor,
        (await readFile(descriptor, "utf8")).replace("parentCID=0000abcd", "parentCID=0000abce"),
      );
      await assert.rejects(openDiskImage(descriptor), (e) => isSnapvisorError(e, "VMDK_DELTA_UNSUPPORTED"));
    });

    it("refuses a seSparse delta whose journal must be replayed", async () => {
      const extent = buildSeSparse(SIZE / 512, new Map([[1, noise(4096, 1)]]));
      extent.writeBigUInt64LE(1n, 512 + 24); // volatile header: replay_journal
      const descriptor = await writeDelta("dirty", "seSparse", "SESPARSE", extent);
      await assert.rejects(
        openDiskImage(descriptor),
        (e) => isSnapvisorError(e, "VMDK_SPARSE_INVALID") && /journal/.test((e as Error).message),
      );
    });
  },
);
