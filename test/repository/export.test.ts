import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { isSnapvisorError } from "../../src/domain/errors.js";
import { exportDisk, type ExportFormat } from "../../src/disk/export.js";
import { LocalStorage } from "../../src/repository/local-storage.js";
import { openPointDisk } from "../../src/repository/point-disk.js";
import { replicate } from "../../src/repository/replicate.js";
import { Repository } from "../../src/repository/repository.js";
import { restoreToFile } from "../../src/repository/restore.js";
import { seededBytes, withTempDir } from "./helpers.js";
import { backup, CS, memoryRepo } from "./replication-helpers.js";

const MiB = 1024 * 1024;

/** 12 MiB with 5 MiB of zeros in the middle and a partly written chunk. */
function image(): Buffer {
  const data = seededBytes(12 * MiB, 77);
  data.fill(0, 3 * MiB, 8 * MiB);
  data.fill(0, 9 * MiB + 4096, 9 * MiB + CS); // a chunk with data and zeros
  return data;
}

describe("export of a recovery point", () => {
  it("openPointDisk() reads the point exactly, at any offset, and reports only non-zero chunks as allocated", async () => {
    const repo = await memoryRepo();
    const data = image();
    const ref = await backup(repo, "vm-1", data);
    const source = await openPointDisk(repo, ref, "disk0");
    const allocated = await source.allocated!();
    assert.deepEqual(allocated, [
      { start: 0, length: 3 * MiB },
      { start: 8 * MiB, length: 4 * MiB },
    ]);
    for (const [offset, length] of [
      [0, 100],
      [CS - 10, 30],
      [3 * MiB - 5, 10 + 2 * CS],
      [12 * MiB - 7, 100],
    ] as const) {
      const buf = Buffer.alloc(length);
      const n = await source.read(buf, offset);
      const expected = data.subarray(offset, offset + length);
      assert.equal(n, expected.length);
      assert.ok(buf.subarray(0, n).equals(expected), `read at ${offset}`);
    }
    await source.close();
  });

  for (const format of ["raw", "vmdk", "vmdk-sparse", "vhdx"] as const satisfies readonly ExportFormat[]) {
    it(`exports as ${format}: qemu-img checks it and converts it back to the restored image byte for byte`, async () => {
      await withTempDir(async (dir) => {
        const repo = await Repository.init(new LocalStorage(join(dir, "repo")), { chunkSize: CS });
        const data = image();
        const ref = await backup(repo, "vm-1", data);
        const restored = join(dir, "restored.raw");
        await restoreToFile(repo, ref, "disk0", restored);
        const out = join(dir, `disk.${format}`);
        const source = await openPointDisk(repo, ref, "disk0");
        // 1 MiB VHDX blocks, so the 5 zero MiB are whole unallocated blocks (the default is 32 MiB).
        const result = await exportDisk(source, out, { format, vhdxBlockSize: MiB });
        assert.equal(result.dataBytes, 7 * MiB, "the 5 MiB of zeros are not written");
        if (format !== "raw") {
          execFileSync("qemu-img", ["check", out], { stdio: "pipe" });
        }
        const back = join(dir, "back.raw");
        const qemuFormat = format === "raw" ? "raw" : format === "vhdx" ? "vhdx" : "vmdk";
        execFileSync("qemu-img", ["convert", "-f", qemuFormat, "-O", "raw", out, back], { stdio: "pipe" });
        assert.ok((await readFile(back)).equals(await readFile(restored)));
        assert.ok((await readFile(back)).equals(data));
        // Sparse regions stay sparse: only the 7 MiB of data take room, plus the format's own
        // structures (VHDX: 4 MiB of fixed regions, headers, log, metadata, BAT; VMDK: a few tables).
        const used = format === "raw" ? (await stat(out)).blocks * 512 : (await stat(out)).size;
        const overhead = format === "vhdx" ? 4 * MiB + CS : 4 * CS;
        assert.ok(used <= 7 * MiB + overhead, `${format} uses ${used} bytes for 7 MiB of data`);
      });
    });
  }

  it("refuses to export an orphaned point, naming the fix", async () => {
    const src = await memoryRepo();
    const base = await backup(src, "vm-1", seededBytes(CS * 8, 1));
    const v2 = seededBytes(CS * 8, 1);
    v2.fill(9, 0, 100);
    await backup(src, "vm-1", v2, [{ start: 0, length: 100 }]);
    const dst = await memoryRepo({ like: src });
    await replicate(src, dst, { upTo: { "vm-1": base.pointId }, withholdBefore: true });
    const [orphan] = await dst.listPoints();
    await assert.rejects(openPointDisk(dst, orphan!, "disk0"), (err: unknown) => {
      assert.ok(isSnapvisorError(err, "POINT_ORPHANED"));
      assert.match(err.message, /7 of its chunks/);
      assert.match(err.message, /seed consume/);
      return true;
    });
  });
});
