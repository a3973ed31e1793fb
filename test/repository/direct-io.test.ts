import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { FileHandle } from "node:fs/promises";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { DirectIo } from "../../src/repository/direct-io.js";
import { LocalStorage } from "../../src/repository/local-storage.js";
import { Repository } from "../../src/repository/repository.js";
import { restoreToFile } from "../../src/repository/restore.js";
import { PAGE, laneBuffers, pageAligned } from "../../src/repository/slab.js";
import { writePoint } from "../../src/repository/writer.js";
import { bufferSource, consistency, machine, seededBytes, withTempDir } from "./helpers.js";

describe("direct I/O in the local store", () => {
  for (const directIo of [true, false]) {
    it(`stores and reads back page-aligned objects of any length exactly (directIo: ${directIo})`, async () => {
      await withTempDir(async (dir) => {
        const storage = new LocalStorage(dir, { directIo });
        const [lane, target] = laneBuffers(2, 3 * PAGE);
        assert.ok(pageAligned(lane!));
        for (const length of [2 * PAGE + 100, 3 * PAGE, PAGE - 1, PAGE]) {
          const data = seededBytes(length, length);
          data.copy(lane!);
          const key = `chunks/aaaa/${length}`;
          assert.equal(await storage.putIfAbsent(key, lane!.subarray(0, length)), true);
          assert.equal((await stat(join(dir, "chunks", "aaaa", String(length)))).size, length);
          assert.deepEqual(await storage.get(key), data);
          assert.equal(await storage.getInto(key, target!), length);
          assert.deepEqual(target!.subarray(0, length), data);
          const plain = Buffer.alloc(3 * PAGE);
          assert.equal(await storage.getInto(key, plain), length);
          assert.deepEqual(plain.subarray(0, length), data);
        }
        assert.equal(await storage.getInto("chunks/aaaa/none", target!), undefined);
        assert.equal(storage.directIo, directIo, "this file system takes O_DIRECT");
      });
    });
  }

  it("refuses, with direct I/O too, an object larger than the target", async () => {
    await withTempDir(async (dir) => {
      const storage = new LocalStorage(dir);
      await storage.putIfAbsent("k/big", seededBytes(2 * PAGE + 1, 3));
      const [target] = laneBuffers(1, 2 * PAGE);
      await assert.rejects(() => storage.getInto("k/big", target!), /larger than/);
    });
  });
});

describe("DirectIo", () => {
  const refusing = {
    write: () => Promise.reject(Object.assign(new Error("EINVAL: invalid argument"), { code: "EINVAL" })),
  } as unknown as FileHandle;
  const failing = {
    write: () => Promise.reject(Object.assign(new Error("EIO: i/o error"), { code: "EIO" })),
  } as unknown as FileHandle;

  it("switches itself off when the device refuses a direct write, and leaves the write to buffered I/O", async () => {
    const io = new DirectIo();
    const [lane] = laneBuffers(1, 2 * PAGE);
    assert.equal(await io.writePages(refusing, lane!, 0), 0);
    assert.equal(io.enabled, false);
    assert.equal(await io.writePages(refusing, lane!, 0), 0, "no second attempt");
  });

  it("writes nothing direct for unaligned memory, positions or less than a page", async () => {
    const io = new DirectIo();
    const [lane] = laneBuffers(1, 2 * PAGE);
    assert.equal(await io.writePages(refusing, Buffer.alloc(2 * PAGE), 0), 0);
    assert.equal(await io.writePages(refusing, lane!, 100), 0);
    assert.equal(await io.writePages(refusing, lane!.subarray(0, PAGE - 1), 0), 0);
    assert.equal(io.enabled, true, "nothing was tried");
  });

  it("passes other errors on", async () => {
    const [lane] = laneBuffers(1, PAGE);
    await assert.rejects(() => new DirectIo().writePages(failing, lane!, 0), /EIO/);
  });
});

describe("a restore with direct I/O", () => {
  it("writes an image byte-identical to the disk, a partial last page included", async () => {
    await withTempDir(async (dir) => {
      const repo = await Repository.init(new LocalStorage(join(dir, "repo")), { chunkSize: 64 * 1024 });
      const data = seededBytes(64 * 1024 * 5 + 1000, 21);
      data.fill(0, 64 * 1024, 2 * 64 * 1024);
      const { ref } = await writePoint(repo, {
        machine,
        disks: [{ key: "d", capacity: data.length, source: bufferSource(data), changed: "all" }],
        consistency,
      });
      for (const directIo of [true, false]) {
        const out = join(dir, `out-${directIo}.raw`);
        await restoreToFile(repo, ref, "d", out, { directIo });
        assert.deepEqual(await readFile(out), data);
      }
    });
  });
});
