import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { collectGarbage } from "../../src/repository/gc.js";
import { acquireLock, type LockEnv } from "../../src/repository/locks.js";
import { MemoryStorage } from "../../src/repository/memory-storage.js";
import { applyPrune, planPrune } from "../../src/repository/prune.js";
import { keys, Repository } from "../../src/repository/repository.js";
import { verifyRepository } from "../../src/repository/verify.js";
import { writePoint } from "../../src/repository/writer.js";
import { bufferSource, consistency, machine, seededBytes } from "./helpers.js";

const CS = 65536;

/** A repository on a MemoryStorage whose clock the test moves. */
async function setup() {
  let now = Date.parse("2026-11-21T10:00:00Z");
  const storage = new MemoryStorage({ now: () => now });
  const repo = await Repository.init(storage, { chunkSize: CS });
  const lockEnv: LockEnv = { host: "h", pid: 1, now: () => new Date(now), isAlive: () => true };
  const advance = (ms: number): void => {
    now += ms;
  };
  const backup = async (
    data: Buffer,
    id: string = machine.id,
    changed: "all" | { start: number; length: number }[] = "all",
  ) =>
    writePoint(repo, {
      machine: { ...machine, id },
      disks: [{ key: "d", capacity: data.length, source: bufferSource(data), changed }],
      consistency,
      now: () => new Date(now),
    });
  return { storage, repo, lockEnv, advance, backup };
}

describe("verifyRepository()", () => {
  it("names a corrupt chunk and a missing chunk and every point each breaks", async () => {
    const { storage, repo, backup } = await setup();
    const shared = seededBytes(CS, 1);
    const a = await backup(Buffer.concat([shared, seededBytes(CS, 2)]), "vm-a");
    const b = await backup(Buffer.concat([shared, seededBytes(CS, 3)]), "vm-b");
    const sharedId = repo.chunkId(shared).toString("hex");
    const onlyB = repo.chunkId(seededBytes(CS, 3)).toString("hex");
    storage.corrupt(keys.chunk(sharedId), (d) => {
      d[d.length - 1]! ^= 1;
      return d;
    });
    await storage.delete(keys.chunk(onlyB));

    const report = await verifyRepository(repo, undefined);
    assert.equal(report.chunksChecked, 3);
    assert.deepEqual(
      report.chunkProblems.map((p) => [p.chunk, p.problem, p.points]).sort(),
      [
        [sharedId, "corrupt", [`vm-a/${a.ref.pointId}`, `vm-b/${b.ref.pointId}`]],
        [onlyB, "missing", [`vm-b/${b.ref.pointId}`]],
      ].sort(),
    );
    assert.deepEqual(
      report.brokenPoints.map((p) => p.point),
      [`vm-a/${a.ref.pointId}`, `vm-b/${b.ref.pointId}`],
    );
    // The corrupt chunk was moved aside, so the next backup of the same data stores it anew.
    assert.ok(await storage.stat(`${keys.chunk(sharedId)}.bad`));
    await backup(Buffer.concat([shared, seededBytes(CS, 2)]), "vm-c");
    assert.ok(await storage.stat(keys.chunk(sharedId)));
  });

  it("reports a corrupt manifest and a corrupt index as broken points", async () => {
    const { storage, repo, backup } = await setup();
    const a = await backup(seededBytes(CS * 2, 1), "vm-a");
    const b = await backup(seededBytes(CS * 2, 2), "vm-b");
    storage.corrupt(keys.manifest(a.ref), (d) => d.subarray(0, d.length - 3));
    storage.corrupt(keys.index(b.ref, "d"), (d) => {
      d[20]! ^= 0xff;
      return d;
    });
    const report = await verifyRepository(repo, undefined);
    assert.deepEqual(
      report.brokenPoints.map((p) => [p.point, /corrupt/.test(p.problems.join())]),
      [
        [`vm-a/${a.ref.pointId}`, true],
        [`vm-b/${b.ref.pointId}`, true],
      ],
    );
  });

  it("finds nothing wrong in a healthy repository", async () => {
    const { repo, backup } = await setup();
    await backup(seededBytes(CS * 3, 1));
    const report = await verifyRepository(repo, undefined);
    assert.deepEqual([report.chunkProblems, report.brokenPoints], [[], []]);
    assert.equal(report.bytesChecked, CS * 3);
  });
});

describe("prune + gc", () => {
  it("prune removes points by policy and gc then frees only their unshared chunks after the grace period", async () => {
    const { storage, repo, lockEnv, advance, backup } = await setup();
    const base = seededBytes(CS * 4, 1);
    await backup(base);
    advance(86_400_000);
    const v2 = Buffer.from(base);
    seededBytes(CS, 5).copy(v2, 0);
    await backup(v2, machine.id, [{ start: 0, length: CS }]);
    advance(86_400_000);
    const plans = await planPrune(repo, { keepLast: 1 }, new Date(Date.parse("2026-11-23T10:00:00Z")));
    const removed = await applyPrune(repo, plans);
    assert.equal(removed.length, 1);
    assert.equal((await repo.listPoints()).length, 1);

    const dry = await collectGarbage(repo, { lockEnv, dryRun: true });
    assert.equal(dry.chunksRemoved, 1, "slot 0 of the base is referenced by nothing now");
    const report = await collectGarbage(repo, { lockEnv });
    assert.deepEqual([report.chunksRemoved, report.bytesRemoved > 0, report.chunksInUse], [1, true, 4]);
    assert.equal((await verifyRepository(repo, undefined)).brokenPoints.length, 0);
    assert.equal(
      await storage.stat(keys.chunk(repo.chunkId(base.subarray(0, CS)).toString("hex"))),
      undefined,
    );
  });

  it("gc spares unreferenced chunks younger than the grace period (a running backup's)", async () => {
    const { repo, lockEnv, advance } = await setup();
    await repo.putChunk(repo.chunkId(Buffer.from("in flight")), Buffer.from("in flight"));
    advance(10 * 60_000);
    const report = await collectGarbage(repo, { lockEnv, graceMs: 60 * 60_000 });
    assert.deepEqual([report.chunksRemoved, report.chunksSpared], [0, 1]);
    advance(60 * 60_000);
    assert.equal((await collectGarbage(repo, { lockEnv, graceMs: 60 * 60_000 })).chunksRemoved, 1);
  });

  it("gc's cutoff goes back to the start of the oldest running backup", async () => {
    const { storage, repo, lockEnv, advance } = await setup();
    await acquireLock(storage, "backup", { command: "backup", env: { ...lockEnv, pid: 2 } });
    advance(5 * 60_000);
    await repo.putChunk(repo.chunkId(Buffer.from("early")), Buffer.from("early"));
    advance(3 * 3600_000);
    const report = await collectGarbage(repo, { lockEnv, graceMs: 60_000 });
    assert.deepEqual([report.chunksRemoved, report.chunksSpared], [0, 1], "written after the backup began");
  });

  it("a backup that reuses an unreferenced chunk touches it, so gc keeps it", async () => {
    const { storage, repo, lockEnv, advance, backup } = await setup();
    const data = seededBytes(CS, 9);
    await repo.putChunk(repo.chunkId(data), data); // left by a killed backup
    advance(5 * 3600_000);
    await backup(data, "vm-z"); // dedups against it: touch
    const report = await collectGarbage(repo, { lockEnv, graceMs: 60_000 });
    assert.equal(report.chunksRemoved, 0);
    assert.ok(await storage.stat(keys.chunk(repo.chunkId(data).toString("hex"))));
  });

  it("gc removes index files of a point whose manifest never landed, once past the cutoff", async () => {
    const { storage, repo, lockEnv, advance } = await setup();
    await storage.putIfAbsent("points/vm-1/20261121T100000000Z-deadbeef/disk-d.index", Buffer.from("x"));
    advance(2 * 3600_000);
    const report = await collectGarbage(repo, { lockEnv });
    assert.equal(report.incompletePointsRemoved, 1);
    assert.equal(await storage.stat("points/vm-1/20261121T100000000Z-deadbeef/disk-d.index"), undefined);
  });
});
