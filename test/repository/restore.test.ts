import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isSnapvisorError } from "../../src/domain/errors.js";
import { MemoryStorage } from "../../src/repository/memory-storage.js";
import { keys, Repository, type PointRef } from "../../src/repository/repository.js";
import { restoreToFile } from "../../src/repository/restore.js";
import type { StoredObject } from "../../src/repository/storage.js";
import { writePoint } from "../../src/repository/writer.js";
import { bufferSource, consistency, machine, seededBytes, withTempDir } from "./helpers.js";

const CS = 64 * 1024;

/**
 * Memory storage that counts chunk reads and answers each `stat` only after a few turns of the
 * event loop (never wall-clock time), so whatever runs beside the orphan check gets to run.
 */
class SlowStatStorage extends MemoryStorage {
  chunkReads = 0;
  readsWhenCheckEnded: number | undefined;
  #pendingStats = 0;

  override async getInto(key: string, target: Buffer): Promise<number | undefined> {
    if (key.startsWith("chunks/")) this.chunkReads++;
    return super.getInto(key, target);
  }

  override async stat(key: string): Promise<StoredObject | undefined> {
    if (!key.startsWith("chunks/")) return super.stat(key);
    this.#pendingStats++;
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    if (--this.#pendingStats === 0) this.readsWhenCheckEnded = this.chunkReads;
    return super.stat(key);
  }
}

/** A disk of 12 chunks: data, two all-zero chunks (holes), data. */
function diskImage(): Buffer {
  const data = seededBytes(CS * 12, 7);
  data.fill(0, CS * 4, CS * 6);
  return data;
}

async function pointOf(storage: MemoryStorage, data: Buffer): Promise<{ repo: Repository; ref: PointRef }> {
  const repo = await Repository.init(storage, { chunkSize: CS });
  const { ref } = await writePoint(repo, {
    machine,
    disks: [{ key: "disk0", capacity: data.length, source: bufferSource(data), changed: "all" }],
    consistency,
  });
  return { repo, ref };
}

/** Deletes the chunk of `slot` from the store (as a replication that held the base back would). */
async function dropChunk(
  storage: MemoryStorage,
  data: Buffer,
  repo: Repository,
  slot: number,
): Promise<void> {
  const id = repo.chunkId(data.subarray(slot * CS, (slot + 1) * CS)).toString("hex");
  assert.equal(await storage.delete(keys.chunk(id)), true);
}

describe("restoreToFile", () => {
  it("writes the disk byte for byte, its all-zero chunks left as holes, while the orphan check runs", async () => {
    await withTempDir(async (dir) => {
      const storage = new SlowStatStorage();
      const data = diskImage();
      const { repo, ref } = await pointOf(storage, data);
      const out = join(dir, "disk.raw");
      const result = await restoreToFile(repo, ref, "disk0", out, { concurrency: 3 });
      assert.deepEqual(result, { capacity: data.length, chunksRestored: 10, zeroChunks: 2 });
      assert.ok((await readFile(out)).equals(data));
      assert.ok(
        (storage.readsWhenCheckEnded ?? 0) > 0,
        "chunks were read before the orphan check had its answers",
      );
    });
  });

  it("refuses an orphaned point and leaves an existing output file as it was", async () => {
    await withTempDir(async (dir) => {
      const storage = new MemoryStorage();
      const data = diskImage();
      const { repo, ref } = await pointOf(storage, data);
      await dropChunk(storage, data, repo, 9);
      await dropChunk(storage, data, repo, 10);
      const out = join(dir, "disk.raw");
      await writeFile(out, "keep me");
      await assert.rejects(restoreToFile(repo, ref, "disk0", out), (err: unknown) => {
        assert.ok(isSnapvisorError(err, "POINT_ORPHANED"), String(err));
        assert.match(err.message, /2 of its chunks/);
        return true;
      });
      assert.equal(await readFile(out, "utf8"), "keep me");
    });
  });

  it("reports a chunk that a read finds missing before the check ends as the orphaned point", async () => {
    await withTempDir(async (dir) => {
      const storage = new SlowStatStorage();
      const data = diskImage();
      const { repo, ref } = await pointOf(storage, data);
      // The first slot is read at once, long before the check (slowed down) gets to it.
      await dropChunk(storage, data, repo, 0);
      const out = join(dir, "disk.raw");
      await assert.rejects(restoreToFile(repo, ref, "disk0", out, { concurrency: 2 }), (err: unknown) => {
        assert.ok(isSnapvisorError(err, "POINT_ORPHANED"), String(err));
        assert.match(err.message, /1 of its chunks/);
        return true;
      });
      assert.ok(storage.chunkReads > 0);
      await assert.rejects(stat(out), { code: "ENOENT" });
    });
  });
});
