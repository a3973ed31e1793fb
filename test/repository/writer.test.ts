import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { MemoryStorage } from "../../src/repository/memory-storage.js";
import { Repository } from "../../src/repository/repository.js";
import { restoreToFile, restoreToStream } from "../../src/repository/restore.js";
import { PassThrough } from "node:stream";
import { writePoint } from "../../src/repository/writer.js";
import { bufferSource, consistency, machine, seededBytes, withTempDir } from "./helpers.js";

const CS = 64 * 1024;

function disk(capacity: number): Buffer {
  const data = seededBytes(capacity, 7);
  data.fill(0, CS * 2, CS * 5); // three all-zero slots
  seededBytes(CS, 99).copy(data, CS * 6); // slot 6 and 7 hold the same bytes
  seededBytes(CS, 99).copy(data, CS * 7);
  return data;
}

describe("writePoint()", () => {
  it("stores a base point whose restore equals the disk byte for byte", async () => {
    const repo = await Repository.init(new MemoryStorage(), { chunkSize: CS });
    const data = disk(CS * 10 + 1234); // a tail shorter than a chunk
    const { ref, manifest } = await writePoint(repo, {
      machine,
      disks: [{ key: "2000", capacity: data.length, source: bufferSource(data), changed: "all" }],
      consistency,
    });
    assert.equal(manifest.kind, "base");
    assert.equal(manifest.parent, null);
    const d = manifest.disks[0]!;
    assert.equal(d.index.chunks, 11);
    assert.equal(d.index.zeroChunks, 3);
    assert.equal(d.stats.bytesRead, data.length);
    assert.equal(d.stats.chunksNew, 7, "11 slots - 3 zero - 1 duplicate");
    assert.equal(d.fullReason, "first backup of this disk");
    await withTempDir(async (dir) => {
      const out = join(dir, "disk.raw");
      const result = await restoreToFile(repo, ref, "2000", out);
      assert.equal(result.zeroChunks, 3);
      assert.ok((await readFile(out)).equals(data));
    });
  });

  it("reads only the slots changed extents touch and restores both points exactly", async () => {
    const repo = await Repository.init(new MemoryStorage(), { chunkSize: CS });
    const v1 = disk(CS * 16);
    await writePoint(repo, {
      machine,
      disks: [{ key: "d", capacity: v1.length, source: bufferSource(v1), changed: "all" }],
      consistency,
    });
    const v2 = Buffer.from(v1);
    v2.write("changed!", CS * 3 + 10); // inside zero slot 3
    v2.write("across", CS * 9 - 3); // spans slots 8 and 9
    const changed = [
      { start: CS * 3 + 10, length: 8 },
      { start: CS * 9 - 3, length: 6 },
    ];
    const { ref, manifest } = await writePoint(repo, {
      machine,
      disks: [{ key: "d", capacity: v2.length, source: bufferSource(v2), changed, changeId: "52 aa/7" }],
      consistency,
    });
    assert.equal(manifest.kind, "incremental");
    assert.ok(manifest.parent);
    const d = manifest.disks[0]!;
    assert.equal(d.read, "incremental");
    assert.equal(d.stats.chunksRead, 3);
    assert.equal(d.stats.bytesRead, CS * 3);
    assert.equal(d.changeId, "52 aa/7");
    const points = await repo.listPoints("vm-1");
    await withTempDir(async (dir) => {
      for (const [p, expect] of [
        [points[0]!, v1],
        [ref, v2],
      ] as const) {
        const out = join(dir, `${p.pointId}.raw`);
        await restoreToFile(repo, p, "d", out);
        assert.ok((await readFile(out)).equals(expect), `point ${p.pointId}`);
      }
    });
  });

  it("falls back to a full read with the reason when the disk was resized", async () => {
    const repo = await Repository.init(new MemoryStorage(), { chunkSize: CS });
    const v1 = disk(CS * 8);
    await writePoint(repo, {
      machine,
      disks: [{ key: "d", capacity: v1.length, source: bufferSource(v1), changed: "all" }],
      consistency,
    });
    const v2 = Buffer.concat([v1, seededBytes(CS, 3)]);
    const { manifest } = await writePoint(repo, {
      machine,
      disks: [
        { key: "d", capacity: v2.length, source: bufferSource(v2), changed: [{ start: 0, length: 1 }] },
      ],
      consistency,
    });
    assert.equal(manifest.disks[0]!.read, "full");
    assert.equal(manifest.disks[0]!.fullReason, `disk resized from ${CS * 8} to ${CS * 9} bytes`);
    assert.equal(manifest.disks[0]!.stats.chunksNew, 1, "unchanged slots dedup against the store");
  });

  it("re-stores a chunk the parent references when the store lost it (quarantined by verify)", async () => {
    const storage = new MemoryStorage();
    const repo = await Repository.init(storage, { chunkSize: CS });
    const v1 = seededBytes(CS * 4, 5);
    await writePoint(repo, {
      machine,
      disks: [{ key: "d", capacity: v1.length, source: bufferSource(v1), changed: "all" }],
      consistency,
    });
    const slot1 = repo.chunkId(v1.subarray(CS, CS * 2)).toString("hex");
    await storage.delete(`chunks/${slot1.slice(0, 4)}/${slot1}`);
    const { manifest } = await writePoint(repo, {
      machine,
      disks: [
        { key: "d", capacity: v1.length, source: bufferSource(v1), changed: [{ start: CS, length: 1 }] },
      ],
      consistency,
    });
    assert.equal(manifest.disks[0]!.stats.chunksNew, 1);
    assert.ok(await storage.stat(`chunks/${slot1.slice(0, 4)}/${slot1}`));
  });

  it("restores to a stream in order, zeros written out", async () => {
    const repo = await Repository.init(new MemoryStorage(), { chunkSize: CS });
    const data = disk(CS * 9 + 100);
    const { ref } = await writePoint(repo, {
      machine,
      disks: [{ key: "d", capacity: data.length, source: bufferSource(data), changed: "all" }],
      consistency,
    });
    const chunks: Buffer[] = [];
    const out = new PassThrough();
    out.on("data", (c: Buffer) => chunks.push(c));
    const result = await restoreToStream(repo, ref, "d", out, { concurrency: 3 });
    assert.equal(result.zeroChunks, 3);
    assert.ok(Buffer.concat(chunks).equals(data));
  });
});
