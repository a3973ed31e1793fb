import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { runBackupCycle } from "../../src/controller/backup-cycle.js";
import { sharedDiskId } from "../../src/controller/plan.js";
import { repositoryWriter } from "../../src/repository/repository-writer.js";
import { MemoryStorage } from "../../src/repository/memory-storage.js";
import { Repository } from "../../src/repository/repository.js";
import { restoreToFile } from "../../src/repository/restore.js";
import { FakeDisk, FakeHypervisor } from "../fakes/fake-hypervisor.js";
import { withTempDir } from "../repository/helpers.js";
import { config, disk, MiB, vm } from "./builders.js";

const CS = 64 * 1024;
const clock = { now: () => new Date("2026-01-10T02:00:00Z") };

function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

async function restored(repo: Repository, machineId: string, pointId: string, key: string): Promise<Buffer> {
  return withTempDir(async (dir) => {
    const out = join(dir, "disk.raw");
    await restoreToFile(repo, { machineId, pointId }, key, out);
    return readFile(out);
  });
}

describe("runBackupCycle() into the repository engine", () => {
  it("writes base and incremental points whose restores equal the disks at snapshot time", async () => {
    const repo = await Repository.init(new MemoryStorage(), { chunkSize: CS });
    const writer = repositoryWriter(repo);
    const hv = new FakeHypervisor();
    const { disks: _d, snapshots: _s, ...info } = vm("app-1");
    const d = new FakeDisk(disk("2000", { capacity: 4 * MiB }), "uuid-a");
    d.write(0, pattern(200_000, 1));
    d.write(3 * MiB, pattern(10_000, 2));
    hv.add({ info, disks: [d], snapshots: [], faults: {} });
    const cfg = config([{ name: "all", source: "vc1", vms: [{ pattern: "*" }] }]);
    const run = (jobId: string) =>
      runBackupCycle({ config: cfg, sessions: new Map([["vc1", hv]]), repository: writer, clock, jobId });

    const first = await run("job-1");
    assert.equal(first.summary.exitCode, 0, JSON.stringify(first.summary.outcomes));
    const p1 = first.summary.outcomes[0]?.point;
    assert.ok(p1);
    assert.equal(p1.bytesRead, 5 * CS, "a full read reads only the allocated areas CBT reported");
    const atFirst = Buffer.from(d.data);
    d.write(1 * MiB + 100, pattern(50, 3));
    const second = await run("job-2");
    const p2 = second.summary.outcomes[0]?.point;
    assert.ok(p2);
    assert.deepEqual(
      second.summary.outcomes[0]?.disks.map((x) => x.mode),
      ["incremental"],
    );
    assert.equal(p2.bytesRead, CS, "one changed chunk read");

    assert.ok((await restored(repo, info.id, p1.id, "2000")).equals(atFirst));
    assert.ok((await restored(repo, info.id, p2.id, "2000")).equals(Buffer.from(d.data)));
    const m2 = await repo.readManifest({ machineId: info.id, pointId: p2.id });
    assert.equal(m2.parent, p1.id);
    assert.deepEqual(m2.consistency, second.summary.outcomes[0]?.consistency);
    assert.equal(m2.disks[0]?.changeId, "uuid-a/2");
    assert.equal(m2.tags.job, "job-2");
    assert.deepEqual(await writer.latestPoint(info.id), {
      id: p2.id,
      takenAt: clock.now(),
      disks: [{ key: "2000", capacity: 4 * MiB, changeId: "uuid-a/2" }],
    });
  });

  it("stores a shared disk once under its cluster and tags each VM's point with the reference", async () => {
    const repo = await Repository.init(new MemoryStorage(), { chunkSize: CS });
    const hv = new FakeHypervisor();
    const path = "C:\\ClusterStorage\\Volume 1\\quorum.vhdx";
    const shared = new FakeDisk(
      disk("scsi0:1", { path, datastore: "v1", shared: true, capacity: 1 * MiB }),
      "q",
    );
    shared.write(0, pattern(5000, 9));
    for (const name of ["fs-1", "fs-2"]) {
      const {
        disks: _d,
        snapshots: _s,
        ...info
      } = vm(name, { hypervisor: "hyperv", cluster: "c1", host: "n1" });
      const own = new FakeDisk(disk("scsi0:0", { datastore: "v1", capacity: 1 * MiB }), `u-${name}`);
      own.write(0, pattern(100, name.length));
      hv.add({ info, disks: [own, shared], snapshots: [], faults: {} });
    }
    const cfg = config([{ name: "fs", source: "c1", vms: [{ pattern: "fs-*" }] }]);
    const { summary } = await runBackupCycle({
      config: cfg,
      sessions: new Map([["c1", hv]]),
      repository: repositoryWriter(repo),
      clock,
      jobId: "job-1",
    });
    assert.equal(summary.exitCode, 0, JSON.stringify(summary.outcomes));
    const id = sharedDiskId("c1", path);
    const sharedPoints = await repo.listPoints(id);
    assert.equal(sharedPoints.length, 1);
    const sharedPoint = sharedPoints[0];
    assert.ok(sharedPoint);
    assert.ok((await restored(repo, id, sharedPoint.pointId, "shared")).equals(Buffer.from(shared.data)));
    for (const name of ["fs-1", "fs-2"]) {
      const [ref] = await repo.listPoints(`id-${name}`);
      assert.ok(ref);
      const m = await repo.readManifest(ref);
      assert.deepEqual(
        m.disks.map((x) => x.key),
        ["scsi0:0"],
      );
      assert.deepEqual(m.references, [{ key: "scsi0:1", machineId: id, pointId: sharedPoint.pointId }]);
    }
  });
});
