import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { SUB_BLOCK } from "../../src/repository/delta.js";
import { collectGarbage } from "../../src/repository/gc.js";
import type { LockEnv } from "../../src/repository/locks.js";
import { MemoryStorage } from "../../src/repository/memory-storage.js";
import { applyPrune, planPrune } from "../../src/repository/prune.js";
import { replicate } from "../../src/repository/replicate.js";
import { consumeSeed } from "../../src/repository/seed-consume.js";
import { exportSeed } from "../../src/repository/seed.js";
import { keys, Repository, type PointRef } from "../../src/repository/repository.js";
import { restoreToFile, restoreToStream } from "../../src/repository/restore.js";
import { verifyRepository } from "../../src/repository/verify.js";
import { writePoint } from "../../src/repository/writer.js";
import { bufferSource, consistency, machine, seededBytes, withTempDir } from "./helpers.js";

/** Four sub-blocks a chunk: up to two changed make a delta. */
const CS = 4 * SUB_BLOCK;

async function setup() {
  let now = Date.parse("2026-11-22T10:00:00Z");
  const storage = new MemoryStorage({ now: () => now });
  const repo = await Repository.init(storage, { chunkSize: CS });
  const lockEnv: LockEnv = { host: "h", pid: 1, now: () => new Date(now), isAlive: () => true };
  const backup = (data: Buffer, changed: "all" | { start: number; length: number }[]) =>
    writePoint(repo, {
      machine,
      disks: [{ key: "d", capacity: data.length, source: bufferSource(data), changed }],
      consistency,
      now: () => new Date(now),
    });
  return { storage, repo, lockEnv, backup, advance: (ms: number) => (now += ms) };
}

/** Writes `seed` bytes over `[start, start+length)` of `data` and returns the extent. */
function change(data: Buffer, start: number, length: number, seed: number) {
  seededBytes(length, seed).copy(data, start);
  return { start, length };
}

async function restored(repo: Repository, ref: PointRef): Promise<Buffer> {
  return withTempDir(async (dir) => {
    const out = join(dir, "disk.raw");
    await restoreToFile(repo, ref, "d", out);
    return readFile(out);
  });
}

async function streamed(repo: Repository, ref: PointRef): Promise<Buffer> {
  const out = new PassThrough();
  const parts: Buffer[] = [];
  out.on("data", (c: Buffer) => parts.push(c));
  await restoreToStream(repo, ref, "d", out);
  return Buffer.concat(parts);
}

describe("incrementals stored as deltas", () => {
  it("reads and stores only the changed sub-blocks, and restores every point exactly", async () => {
    const { repo, backup, advance } = await setup();
    const v1 = seededBytes(8 * CS + 5000, 1); // a short tail slot
    v1.fill(0, 5 * CS, 6 * CS); // slot 5 empty
    const base = await backup(v1, "all");
    advance(1000);

    const v2 = Buffer.from(v1);
    const changed = [
      change(v2, 1 * CS + SUB_BLOCK + 100, 10, 2), // slot 1: one sub-block
      change(v2, 3 * CS, 2 * SUB_BLOCK, 3), // slot 3: two sub-blocks -> still a delta
      change(v2, 5 * CS + 3 * SUB_BLOCK, 4, 4), // slot 5: written over zeros
      change(v2, 7 * CS, 3 * SUB_BLOCK, 5), // slot 7: three of four -> whole chunk
    ];
    const inc = await backup(v2, changed);
    const d = inc.manifest.disks[0]!;
    assert.equal(
      d.stats.bytesRead,
      SUB_BLOCK + 2 * SUB_BLOCK + SUB_BLOCK + CS,
      "sub-blocks for deltas, slot 7 whole",
    );
    assert.equal(d.stats.chunksNew, 3, "two packs of deltas (a pack holds at most a chunk) and slot 7");
    assert.ok(
      d.stats.bytesNew < 2 * CS + 3 * 64,
      `stored ${d.stats.bytesNew} bytes of plaintext: 4 sub-blocks + 1 chunk`,
    );
    const index = await repo.readIndex(inc.manifest, "d");
    assert.deepEqual(
      [1, 3, 5, 7].map((s) => index.baseOf(s)?.toString("hex").slice(0, 8) ?? "whole"),
      [
        (await repo.readIndex(base.manifest, "d")).id(1).toString("hex").slice(0, 8),
        (await repo.readIndex(base.manifest, "d")).id(3).toString("hex").slice(0, 8),
        "00000000",
        "whole",
      ],
    );
    assert.ok((await restored(repo, base.ref)).equals(v1));
    assert.ok((await restored(repo, inc.ref)).equals(v2));
    assert.ok((await streamed(repo, inc.ref)).equals(v2));
    await withTempDir(async (dir) => {
      // Slot 5 (a delta over zeros) is written as its one sub-block: the rest stays a hole.
      const out = join(dir, "sparse.raw");
      await restoreToFile(repo, inc.ref, "d", out);
      const allocated = (await stat(out)).blocks * 512;
      assert.ok(allocated < 7 * CS + 8192 + CS, `${allocated} bytes allocated`);
      assert.ok(allocated >= 7 * CS + SUB_BLOCK, `${allocated} bytes allocated`);
    });
    assert.deepEqual((await verifyRepository(repo, undefined)).chunkProblems, []);
  });

  it("carries a delta's sub-blocks into the next one, and stores the slot whole once too many changed", async () => {
    const { repo, backup, advance } = await setup();
    const v1 = seededBytes(2 * CS, 10);
    await backup(v1, "all");
    advance(1000);
    const v2 = Buffer.from(v1);
    const p2 = await backup(v2, [change(v2, 0, 100, 11)]); // sub-block 0
    advance(1000);
    const v3 = Buffer.from(v2);
    const p3 = await backup(v3, [change(v3, 2 * SUB_BLOCK, 100, 12)]); // sub-block 2: delta holds 0 and 2
    const i2 = await repo.readIndex(p2.manifest, "d");
    const i3 = await repo.readIndex(p3.manifest, "d");
    assert.ok(i3.baseOf(0)!.equals(i2.baseOf(0)!), "the base stays the whole chunk of the first point");
    assert.equal(p3.manifest.disks[0]!.stats.bytesRead, SUB_BLOCK, "the carried sub-block is not read again");
    advance(1000);
    const v4 = Buffer.from(v3);
    const p4 = await backup(v4, [change(v4, 3 * SUB_BLOCK, 100, 13)]); // 0, 2, 3: three of four
    const i4 = await repo.readIndex(p4.manifest, "d");
    assert.equal(i4.baseOf(0), undefined, "stored whole");
    assert.equal(p4.manifest.disks[0]!.stats.bytesRead, CS);
    for (const [p, data] of [
      [p2, v2],
      [p3, v3],
      [p4, v4],
    ] as const)
      assert.ok((await restored(repo, p.ref)).equals(data), p.manifest.id);
  });

  it("keeps a slot empty when zeros are written over zeros", async () => {
    const { repo, backup, advance } = await setup();
    const v1 = Buffer.alloc(2 * CS);
    seededBytes(CS, 20).copy(v1);
    await backup(v1, "all");
    advance(1000);
    const inc = await backup(v1, [{ start: CS + 10, length: 10 }]);
    const index = await repo.readIndex(inc.manifest, "d");
    assert.ok(index.isZero(1));
    assert.equal(index.deltaCount, 0);
    assert.equal(inc.manifest.disks[0]!.stats.chunksNew, 0);
  });

  it("keeps the base a delta lies over through prune and gc, and names it when it breaks", async () => {
    const { storage, repo, backup, lockEnv, advance } = await setup();
    const v1 = seededBytes(2 * CS, 30);
    const first = await backup(v1, "all");
    const v2 = Buffer.from(v1);
    advance(86_400_000);
    const second = await backup(v2, [change(v2, SUB_BLOCK, 50, 31)]);
    advance(86_400_000);
    const removed = await applyPrune(
      repo,
      await planPrune(repo, { keepLast: 1 }, new Date(Date.parse("2026-11-25T00:00:00Z"))),
    );
    assert.deepEqual(
      removed.map((r) => r.pointId),
      [first.ref.pointId],
    );
    advance(3 * 86_400_000);
    const gc = await collectGarbage(repo, { lockEnv });
    assert.equal(gc.chunksRemoved, 0, "slot 0's chunk is the delta's base");
    assert.ok((await restored(repo, second.ref)).equals(v2));

    const baseHex = (await repo.readIndex(second.manifest, "d")).baseOf(0)!.toString("hex");
    storage.corrupt(keys.chunk(baseHex), (d) => {
      d[d.length - 1]! ^= 1;
      return d;
    });
    const report = await verifyRepository(repo, undefined);
    assert.deepEqual(
      report.chunkProblems.map((p) => [p.chunk, p.problem, p.points]),
      [[baseHex, "corrupt", [`${machine.id}/${second.ref.pointId}`]]],
    );
    await storage.delete(keys.chunk(baseHex));
    await assert.rejects(restored(repo, second.ref), { code: "POINT_ORPHANED" });
  });

  it("replicates the bases with the deltas", async () => {
    const { repo, backup, advance } = await setup();
    const v1 = seededBytes(3 * CS, 40);
    await backup(v1, "all");
    advance(1000);
    const v2 = Buffer.from(v1);
    const inc = await backup(v2, [change(v2, 2 * CS + SUB_BLOCK, 9, 41)]);
    for (const prefix of ["", "site-a-"]) {
      const target = await Repository.init(new MemoryStorage(), { like: repo.config });
      const report = await replicate(repo, target, { prefix });
      assert.equal(report.points.length, 2);
      const copy = (await target.listPoints()).at(-1)!;
      assert.deepEqual(copy, { machineId: `${prefix}${machine.id}`, pointId: inc.ref.pointId });
      assert.ok((await restored(target, copy)).equals(v2), `prefix "${prefix}"`);
      assert.equal((await target.readIndex(await target.readManifest(copy), "d")).deltaCount, 1);
    }
  });

  it("an incremental of deltas replicated without its base is orphaned until a seed drive brings the base", async () => {
    const { repo, backup, advance } = await setup();
    const v1 = seededBytes(3 * CS, 50);
    const base = await backup(v1, "all");
    advance(1000);
    const v2 = Buffer.from(v1);
    const inc = await backup(v2, [change(v2, CS + 2 * SUB_BLOCK, 30, 51)]);
    const target = await Repository.init(new MemoryStorage(), { like: repo.config });
    const report = await replicate(repo, target, {
      upTo: { [machine.id]: base.ref.pointId },
      withholdBefore: true,
    });
    assert.equal(report.chunksSent, 1, "only the delta crosses");
    await assert.rejects(restored(target, inc.ref), { code: "POINT_ORPHANED" });
    await withTempDir(async (dir) => {
      const seed = await exportSeed(repo, join(dir, "seed"), { machines: [machine.id] });
      await consumeSeed(target, seed.volumes);
    });
    assert.ok((await restored(target, inc.ref)).equals(v2));
    assert.ok((await restored(target, base.ref)).equals(v1));
  });

  it("touches a delta that is already stored, so gc spares it for the point that now needs it", async () => {
    const { storage, repo, backup, advance } = await setup();
    const v1 = seededBytes(2 * CS, 60);
    const base = await backup(v1, "all");
    advance(1000);
    const v2 = Buffer.from(v1);
    const changed = [change(v2, 10, 10, 61)];
    const first = await backup(v2, changed);
    const deltaKey = keys.chunk((await repo.readIndex(first.manifest, "d")).id(0).toString("hex"));
    const before = (await storage.stat(deltaKey))!.mtimeMs;
    advance(3 * 3_600_000);
    const again = await writePoint(repo, {
      machine,
      disks: [{ key: "d", capacity: v2.length, source: bufferSource(v2), changed }],
      consistency,
      parent: base.ref.pointId,
    });
    assert.equal(again.manifest.disks[0]!.stats.chunksNew, 0, "the same delta");
    assert.equal((await storage.stat(deltaKey))!.mtimeMs, before + 3 * 3_600_000, "touched");
  });

  it("works the same in an encrypted repository (packs sealed and named like chunks)", async () => {
    const repo = await Repository.init(new MemoryStorage(), { chunkSize: CS, passphrase: "correct horse" });
    let now = Date.parse("2026-11-22T10:00:00Z");
    const write = (data: Buffer, changed: "all" | { start: number; length: number }[]) =>
      writePoint(repo, {
        machine,
        disks: [{ key: "d", capacity: data.length, source: bufferSource(data), changed }],
        consistency,
        now: () => new Date((now += 1000)),
      });
    const v1 = seededBytes(4 * CS, 70);
    await write(v1, "all");
    const v2 = Buffer.from(v1);
    const inc = await write(v2, [change(v2, SUB_BLOCK, 5, 71), change(v2, 3 * CS, 5, 72)]);
    assert.equal((await repo.readIndex(inc.manifest, "d")).deltaCount, 2);
    assert.equal(inc.manifest.disks[0]!.stats.chunksNew, 1, "one pack");
    assert.ok((await restored(repo, inc.ref)).equals(v2));
    assert.deepEqual((await verifyRepository(repo, undefined)).chunkProblems, []);
  });
});
