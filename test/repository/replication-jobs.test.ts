import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { isSnapvisorError } from "../../src/domain/errors.js";
import { checkCompleteness } from "../../src/repository/orphans.js";
import {
  abandonSeed,
  runReplication,
  setPaused,
  setUpReplication,
} from "../../src/repository/replication-jobs.js";
import { replicateAfterBackup } from "../../src/repository/replication-hook.js";
import { findOutbound, loadIncoming } from "../../src/repository/replication-state.js";
import { consumeSeed } from "../../src/repository/seed-consume.js";
import { exportSeed } from "../../src/repository/seed.js";
import type { Repository } from "../../src/repository/repository.js";
import { seededBytes, withTempDir } from "./helpers.js";
import { backup, CS, memoryRepo, restored } from "./replication-helpers.js";

function change(data: Buffer, slot: number, seed: number): Buffer {
  const v = Buffer.from(data);
  seededBytes(CS, seed).copy(v, CS * slot);
  return v;
}

describe("replication set-up, pause, schedules and seed state", () => {
  it("skips paused machines and replicates them once resumed", async () => {
    const src = await memoryRepo();
    const dst = await memoryRepo({ like: src });
    await backup(src, "vm-1", seededBytes(CS * 4, 1));
    await backup(src, "vm-2", seededBytes(CS * 4, 2));
    const record = await setUpReplication(src, dst, { location: "/dst", paused: true });
    assert.equal((await runReplication(src, dst)).report.points.length, 0, "paused at set-up");
    let resumed = await setPaused(src, record, false);
    resumed = await setPaused(src, resumed, true, ["vm-2"]);
    const run = await runReplication(src, dst);
    assert.deepEqual(
      run.report.points.map((p) => p.target.machineId),
      ["vm-1"],
    );
    assert.equal(run.record.last?.ok, true);
    await setPaused(src, resumed, false, ["vm-2"]);
    assert.deepEqual(
      (await runReplication(src, dst)).report.points.map((p) => [p.target.machineId, p.action]),
      [
        ["vm-1", "present"],
        ["vm-2", "copied"],
      ],
    );
    await assert.rejects(setUpReplication(src, dst, { location: "/dst" }), /already set up/);
  });

  it("with a seed drive, sends only later points; the target's consumed seed ends the withholding", async () => {
    const src = await memoryRepo();
    const dst = await memoryRepo({ like: src });
    const v0 = seededBytes(CS * 8, 3);
    const base = await backup(src, "vm-1", v0);
    await setUpReplication(src, dst, { location: "/dst", withSeedDrive: true });
    const v1 = change(v0, 2, 4);
    const incr = await backup(src, "vm-1", v1, [{ start: CS * 2, length: CS }]);
    const first = await runReplication(src, dst);
    assert.deepEqual(
      first.report.points.map((p) => [p.source.pointId, p.missing]),
      [[incr.pointId, 7]],
      "the base stays behind; the incremental arrives orphaned",
    );
    assert.equal((await loadIncoming(dst.storage, src.config.id))?.seed?.state, "pending");
    await withTempDir(async (dir) => {
      const seed = await exportSeed(src, join(dir, "seed"));
      await consumeSeed(dst, seed.volumes);
    });
    const after = await runReplication(src, dst);
    assert.equal(after.record.seed?.state, "consumed");
    assert.ok((await restored(dst, base)).equals(v0));
    assert.ok((await restored(dst, incr)).equals(v1));
  });

  it("an abandoned seed stops the withholding: orphans are completed over the network once", async () => {
    const src = await memoryRepo();
    const dst = await memoryRepo({ like: src });
    const v0 = seededBytes(CS * 8, 5);
    await backup(src, "vm-1", v0);
    await setUpReplication(src, dst, { location: "/dst", withSeedDrive: true });
    const v1 = change(v0, 1, 6);
    const incr = await backup(src, "vm-1", v1, [{ start: CS, length: CS }]);
    await runReplication(src, dst);
    assert.equal(
      (await checkCompleteness(dst, [{ machineId: "vm-1", pointId: incr.pointId }]))[0]?.missing,
      7,
    );
    const record = await abandonSeed(src, await findOutbound(src.storage, dst.config.id));
    await assert.rejects(abandonSeed(src, record), /no pending seed/);
    const run = await runReplication(src, dst);
    assert.equal(run.report.chunksSent, 7);
    assert.deepEqual(
      run.report.points.map((p) => p.action),
      ["repaired"],
    );
    assert.deepEqual(
      (await loadIncoming(dst.storage, src.config.id))?.orphans,
      [],
      "no orphan left to recheck",
    );
    assert.ok((await restored(dst, incr)).equals(v1));
    assert.equal((await dst.listPoints()).length, 1, "the points before set-up never come");
  });

  it("replicateAfterBackup() sends the machine to every after-backup target and reports a failing one", async () => {
    const src = await memoryRepo();
    const near = await memoryRepo({ like: src });
    const far = await memoryRepo({ like: src });
    const nightly = await memoryRepo({ like: src });
    await setUpReplication(src, near, { location: "near" });
    await setUpReplication(src, far, { location: "far" });
    await setUpReplication(src, nightly, { location: "nightly", schedule: "daily 02:00" });
    const ref = await backup(src, "vm-1", seededBytes(CS * 4, 7));
    const repos: Record<string, Repository> = { near, far };
    const results = await replicateAfterBackup(src, "vm-1", async (r) => {
      const repo = repos[r.target.location];
      if (!repo) throw new Error(`unreachable ${r.target.location}`);
      if (r.target.location === "far") throw Object.assign(new Error("network down"));
      return { repo, close: async () => {} };
    });
    assert.equal(results.length, 2, "the nightly target waits for its schedule");
    const byId = new Map(results.map((r) => [r.targetId, r]));
    assert.equal(byId.get(near.config.id)?.report?.points.length, 1);
    assert.ok(isSnapvisorError(byId.get(far.config.id)?.error));
    assert.match(byId.get(far.config.id)!.error!.message, /network down/);
    assert.ok((await restored(near, ref)).equals(seededBytes(CS * 4, 7)));
    assert.deepEqual(await nightly.listPoints(), []);
  });

  it("an orphan replicated onward is completed downstream by the next run once its chunks exist upstream (rechecked, not rescanned)", async () => {
    const a = await memoryRepo();
    const b = await memoryRepo({ like: a });
    const c = await memoryRepo({ like: a });
    const v0 = seededBytes(CS * 8, 8);
    await backup(a, "vm-1", v0);
    await setUpReplication(a, b, { location: "b", withSeedDrive: true });
    await setUpReplication(b, c, { location: "c" });
    const v1 = change(v0, 5, 9);
    const incr = await backup(a, "vm-1", v1, [{ start: CS * 5, length: CS }]);
    await runReplication(a, b);
    const hop = await runReplication(b, c);
    assert.equal(hop.report.points[0]?.missing, 7, "orphaned at b, so orphaned at c");
    assert.deepEqual((await loadIncoming(c.storage, b.config.id))?.orphans, [`vm-1/${incr.pointId}`]);

    // b's orphan is completed over the network (seed abandoned): the base point itself never comes.
    await abandonSeed(a, await findOutbound(a.storage, b.config.id));
    assert.equal((await runReplication(a, b)).report.points[0]?.action, "repaired");
    const again = await runReplication(b, c);
    assert.deepEqual(
      again.report.points.map((p) => [p.action, p.chunksSent, p.missing]),
      [["repaired", 7, 0]],
      "c rechecks the orphan it holds and gets the 7 chunks b has now",
    );
    assert.deepEqual((await loadIncoming(c.storage, b.config.id))?.orphans, []);
    assert.ok((await restored(c, incr)).equals(v1));
  });
});
