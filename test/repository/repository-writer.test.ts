import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { runBackupJob } from "../../src/controller/backup-job.js";
import { Limiter } from "../../src/controller/limits.js";
import { planBackup } from "../../src/controller/plan.js";
import type { LatestPoint } from "../../src/domain/repository-port.js";
import { MemoryStorage } from "../../src/repository/memory-storage.js";
import { Repository } from "../../src/repository/repository.js";
import { repositoryMachineId, repositoryWriter } from "../../src/repository/repository-writer.js";
import { restoreToFile } from "../../src/repository/restore.js";
import { config, disk, vm } from "../controller/builders.js";
import { FakeDisk, FakeHypervisor } from "../fakes/fake-hypervisor.js";
import { withTempDir } from "./helpers.js";

const clock = { now: () => new Date("2026-01-10T02:00:00Z") };

describe("repositoryWriter()", () => {
  it("lets the backup job write full and incremental points that restore to the disks at snapshot time", async () => {
    const repo = await Repository.init(new MemoryStorage(), { chunkSize: 64 * 1024 });
    const writer = repositoryWriter(repo);
    const hv = new FakeHypervisor();
    const { disks: _d, snapshots, ...info } = vm("sql-01");
    const d = new FakeDisk(disk("2000"), "uuid-a");
    d.write(0, new Uint8Array(200_000).fill(3));
    hv.add({ info, disks: [d], snapshots: [...snapshots], faults: {} });
    const cfg = config([{ name: "all", source: "vc1", vms: [{ pattern: "*" }] }]);

    const cycle = async (jobId: string) => {
      const latest = new Map<string, LatestPoint>();
      const l = await writer.latestPoint(info.id);
      if (l) latest.set(info.id, l);
      const plan = planBackup({
        inventory: [{ source: "vc1", vms: await hv.inventory() }],
        groups: cfg.protectionGroups,
        latest,
        now: clock.now(),
      });
      const summary = await runBackupJob({
        jobId,
        plan,
        sessions: new Map([["vc1", hv]]),
        repository: writer,
        limiter: new Limiter(cfg.limits),
        clock,
      });
      assert.equal(summary.outcomes[0]?.status, "ok", JSON.stringify(summary.outcomes[0]));
      return Buffer.from(d.data);
    };

    const v1 = await cycle("job-1");
    d.write(5 * 65536 + 17, new Uint8Array(100).fill(9));
    const v2 = await cycle("job-2");

    const points = await repo.listPoints(repositoryMachineId(info.id));
    assert.equal(points.length, 2);
    const second = await repo.readManifest(points[1]!);
    assert.equal(second.kind, "incremental");
    assert.equal(second.disks[0]!.read, "incremental");
    assert.equal(second.disks[0]!.stats.chunksRead, 1, "one 64 KiB chunk changed");
    assert.equal(second.tags["job"], "job-2");
    assert.ok(second.disks[0]!.changeId?.startsWith("uuid-a/"));
    await withTempDir(async (dir) => {
      for (const [p, expect] of [
        [points[0]!, v1],
        [points[1]!, v2],
      ] as const) {
        const out = join(dir, p.pointId);
        await restoreToFile(repo, p, "2000", out);
        assert.ok((await readFile(out)).equals(expect));
      }
    });
  });

  it("maps ids that are not path-safe (shared disks) to a stable digest", () => {
    assert.equal(repositoryMachineId("4215a3c7-1b2e"), "4215a3c7-1b2e");
    const shared = repositoryMachineId("shared:cl1:C:\\ClusterStorage\\v1\\q.vhdx");
    assert.match(shared, /^x-[0-9a-f]{32}$/);
    assert.equal(repositoryMachineId("shared:cl1:C:\\ClusterStorage\\v1\\q.vhdx"), shared);
  });
});
