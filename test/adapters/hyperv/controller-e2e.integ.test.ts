import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { runBackupCycle } from "../../../src/controller/backup-cycle.js";
import { repositoryWriter } from "../../../src/repository/repository-writer.js";
import { MemoryStorage } from "../../../src/repository/memory-storage.js";
import { Repository } from "../../../src/repository/repository.js";
import { restoreToFile } from "../../../src/repository/restore.js";
import { withTempDir } from "../../repository/helpers.js";
import { config } from "../../controller/builders.js";
import { ourCheckpoints, startLab, type Lab } from "./harness.js";

const clock = { now: () => new Date("2026-11-22T02:00:00Z") };

async function restored(repo: Repository, machineId: string, pointId: string, key: string): Promise<Buffer> {
  return withTempDir(async (dir) => {
    const out = join(dir, "disk.raw");
    await restoreToFile(repo, { machineId, pointId }, key, out);
    return readFile(out);
  });
}

describe("the controller backing up the simulated cluster into the repository (local transport)", () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => lab.close());

  it("writes full then incremental points of a VM and of the guest cluster's shared VHDX that restore to the host's disks", async () => {
    const repo = await Repository.init(new MemoryStorage(), { chunkSize: 64 * 1024 });
    const writer = repositoryWriter(repo);
    const session = lab.session("local");
    const cfg = config([
      { name: "lab", source: "c1", vms: [{ pattern: "sql-01" }, { pattern: "gc-node-*" }] },
    ]);
    const run = (jobId: string) =>
      runBackupCycle({ config: cfg, sessions: new Map([["c1", session]]), repository: writer, clock, jobId });
    const sqlOs = "C:\\ClusterStorage\\Volume1\\sql-01\\os.vhdx";
    const sharedPath = "C:\\ClusterStorage\\Volume2\\sqlcluster\\shared-data.vhdx";

    const first = await run("e2e-1");
    assert.equal(first.summary.exitCode, 0, JSON.stringify(first.summary.outcomes));
    assert.deepEqual(ourCheckpoints(lab.sim), []);
    await lab.sim.control.writePattern("sql-01", 0, 3 * 2 ** 20 + 17, 5000, 90);
    await lab.sim.control.writePattern("gc-node-b", 1, 9 * 2 ** 20, 70000, 91);
    const second = await run("e2e-2");
    assert.equal(second.summary.exitCode, 0, JSON.stringify(second.summary.outcomes));
    assert.deepEqual(ourCheckpoints(lab.sim), []);

    const sql = second.summary.outcomes.find((o) => o.name === "sql-01");
    assert.deepEqual(
      sql?.disks.map((d) => d.mode),
      ["incremental", "incremental"],
    );
    assert.equal(sql?.consistency?.achieved, "application");
    assert.ok(sql?.point);
    const now = await lab.sim.control.readDisk(sqlOs, 0, 32 * 2 ** 20);
    assert.ok((await restored(repo, sql.id, sql.point.id, "scsi0:0")).equals(Buffer.from(now)));

    const shared = second.summary.outcomes.find(
      (o) => o.kind === "shared-disk" && o.name.includes("shared-data.vhdx"),
    );
    const vhds = second.summary.outcomes.find(
      (o) => o.kind === "shared-disk" && o.name.includes("quorum.vhds"),
    );
    assert.equal(vhds?.status, "skipped");
    assert.ok(shared?.point, JSON.stringify(second.summary.outcomes));
    assert.deepEqual(
      shared.disks.map((d) => d.mode),
      ["incremental"],
    );
    const sharedNow = await lab.sim.control.readDisk(sharedPath, 0, 32 * 2 ** 20);
    const key =
      (await repo.readManifest({ machineId: shared.id, pointId: shared.point.id })).disks[0]?.key ?? "";
    assert.ok((await restored(repo, shared.id, shared.point.id, key)).equals(Buffer.from(sharedNow)));
  });
});
