import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { JobEvent } from "../../src/controller/backup-job.js";
import { runBackupCycle } from "../../src/controller/backup-cycle.js";
import type { ConfigInput } from "../../src/controller/config-schema.js";
import type { JobSummary, ObjectOutcome } from "../../src/controller/job-summary.js";
import { sharedDiskId } from "../../src/controller/plan.js";
import { SNAPSHOT_PREFIX, type VmDisk, type VmInfo } from "../../src/domain/hypervisor.js";
import { validateConfig } from "../../src/controller/config.js";
import { SnapvisorError } from "../../src/domain/errors.js";
import { FakeDisk, FakeHypervisor, type FakeVm } from "../fakes/fake-hypervisor.js";
import { FakeRepository } from "../fakes/fake-repository.js";
import { config, disk, MiB, vm } from "./builders.js";

const clock = { now: () => new Date("2026-01-10T02:00:00Z") };

function fill(n: number, byte: number): Uint8Array {
  return new Uint8Array(n).fill(byte);
}

/** A VM in the fake hypervisor with disks holding some data. */
function addVm(
  hv: FakeHypervisor,
  name: string,
  over: Partial<VmInfo> = {},
  disks: VmDisk[] = [disk("2000")],
): FakeVm {
  const { disks: _d, snapshots, ...info } = vm(name, over);
  const fakeDisks = disks.map((d) => {
    const fd = new FakeDisk(d, `uuid-${name}-${d.key}`);
    fd.write(0, fill(100_000, name.length));
    fd.write(d.capacity - 4096, fill(4096, 7));
    return fd;
  });
  return hv.add({ info, disks: fakeDisks, snapshots: [...snapshots], faults: {} });
}

interface CycleOptions {
  groups?: ConfigInput["protectionGroups"];
  limits?: ConfigInput["limits"];
  previous?: JobSummary;
  signal?: AbortSignal;
  onEvent?: (e: JobEvent) => void;
  jobId?: string;
}

const allVms: ConfigInput["protectionGroups"] = [{ name: "all", source: "vc1", vms: [{ pattern: "*" }] }];

/** One cycle through the composition the CLI uses (inventory -> latest -> plan -> job). */
async function cycle(hv: FakeHypervisor, repo: FakeRepository, o: CycleOptions = {}) {
  const cfg = config(o.groups ?? allVms, o.limits ?? {});
  const previousMembers = o.previous
    ? new Map(
        cfg.protectionGroups.map((g) => [
          g.name,
          o.previous?.outcomes.filter((x) => x.group === g.name).map((x) => x.name) ?? [],
        ]),
      )
    : undefined;
  const { summary } = await runBackupCycle({
    config: cfg,
    sessions: new Map([["vc1", hv]]),
    repository: repo,
    clock,
    jobId: o.jobId ?? "job-1",
    ...(previousMembers ? { previousMembers } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.onEvent ? { onEvent: o.onEvent } : {}),
  });
  return summary;
}

function outcome(summary: JobSummary, name: string): ObjectOutcome {
  const o = summary.outcomes.find((x) => x.name === name);
  assert.ok(o, `no outcome for ${name}`);
  return o;
}

function storedDisk(repo: FakeRepository, pointId: string | undefined, key: string): Uint8Array | undefined {
  return repo.points.find((p) => p.id === pointId)?.disks.get(key)?.data;
}

describe("runBackupJob()", () => {
  it("takes full backups first, stores the disks as they were at snapshot time, and removes the snapshots", async () => {
    const hv = new FakeHypervisor();
    const repo = new FakeRepository();
    const a = addVm(hv, "app-1");
    addVm(hv, "db-1", { guestOs: "linux" });
    const before = a.disks[0]?.data.slice();
    const summary = await cycle(hv, repo);
    assert.equal(summary.exitCode, 0);
    const o = outcome(summary, "app-1");
    assert.equal(o.status, "ok");
    assert.deepEqual(o.consistency, {
      expected: "application",
      achieved: "application",
      reason: o.consistency?.reason,
    });
    assert.deepEqual(outcome(summary, "db-1").consistency?.achieved, "filesystem");
    assert.deepEqual(o.disks, [
      {
        key: "2000",
        capacity: 4 * MiB,
        mode: "full",
        reason: "first backup: no previous point",
        bytesToRead: 3 * 64 * 1024,
      },
    ]);
    assert.deepEqual(storedDisk(repo, o.point?.id, "2000"), before);
    assert.deepEqual(hv.openSnapshots(), {});
    assert.ok(hv.calls.includes(`commitSnapshot app-1 ${SNAPSHOT_PREFIX}job-1`));
  });

  it("reads only the areas written since the last point, and the point is still complete", async () => {
    const hv = new FakeHypervisor();
    const repo = new FakeRepository();
    const a = addVm(hv, "app-1");
    await cycle(hv, repo);
    a.disks[0]?.write(2 * MiB, fill(8192, 0xab));
    const summary = await cycle(hv, repo, { jobId: "job-2" });
    const o = outcome(summary, "app-1");
    assert.deepEqual(
      o.disks.map((d) => [d.mode, d.bytesToRead]),
      [["incremental", 8192]],
    );
    assert.equal(o.point?.bytesRead, 8192);
    assert.deepEqual(storedDisk(repo, o.point?.id, "2000"), a.disks[0]?.data);
    assert.equal(repo.points.at(-1)?.parent, repo.points[0]?.id);
  });

  it("reads a disk in full, with the reason, after a CBT reset, and the other disk incrementally", async () => {
    const hv = new FakeHypervisor();
    const repo = new FakeRepository();
    const a = addVm(hv, "app-1", {}, [disk("2000"), disk("2001")]);
    await cycle(hv, repo);
    a.disks[0]?.resetTracking();
    a.disks[1]?.write(0, fill(512, 1));
    const o = outcome(await cycle(hv, repo, { jobId: "job-2" }), "app-1");
    assert.equal(o.status, "ok");
    assert.deepEqual(
      o.disks.map((d) => [d.key, d.mode, d.reason]),
      [
        ["2000", "full", "CBT reset: change id uuid-app-1-2000/1 is not valid any more (FileFault)"],
        ["2001", "incremental", ""],
      ],
    );
    assert.deepEqual(storedDisk(repo, o.point?.id, "2000"), a.disks[0]?.data);
    assert.deepEqual(storedDisk(repo, o.point?.id, "2001"), a.disks[1]?.data);
  });

  it("falls back to a full read of one disk when its changed areas cannot be queried", async () => {
    const hv = new FakeHypervisor();
    const repo = new FakeRepository();
    const a = addVm(hv, "app-1");
    await cycle(hv, repo);
    a.faults.changedAreasFailure = "2000";
    const o = outcome(await cycle(hv, repo, { jobId: "job-2" }), "app-1");
    assert.equal(o.disks[0]?.mode, "full");
    assert.equal(
      o.disks[0]?.reason,
      "changed areas unavailable (QueryChangedDiskAreas: FileFault): reading the whole disk",
    );
    assert.equal(o.disks[0]?.bytesToRead, 4 * MiB);
  });

  it("removes the snapshot after a read failure, writes no point, and backs up the other VMs", async () => {
    const hv = new FakeHypervisor();
    const repo = new FakeRepository();
    addVm(hv, "bad-1").faults.readFailure = "2000";
    addVm(hv, "good-1");
    const summary = await cycle(hv, repo);
    const bad = outcome(summary, "bad-1");
    assert.equal(bad.status, "failed");
    assert.equal(bad.errorCode, "READ_FAILED");
    assert.match(bad.messages.join(" "), /Read of disk 2000 failed at 0: connection reset/);
    assert.equal(outcome(summary, "good-1").status, "ok");
    assert.deepEqual(
      repo.points.map((p) => p.machine.name),
      ["good-1"],
    );
    assert.deepEqual(hv.openSnapshots(), {});
    assert.ok(hv.calls.includes("removeSnapshot bad-1"));
    assert.equal(summary.exitCode, 1);
  });

  it("removes the snapshot of a VM aborted mid-read and starts no other VM after SIGINT", async () => {
    const hv = new FakeHypervisor();
    const repo = new FakeRepository();
    const controller = new AbortController();
    let release!: () => void;
    addVm(hv, "a-1").faults.readGate = new Promise<void>((r) => (release = r));
    addVm(hv, "b-1");
    const job = cycle(hv, repo, {
      limits: { global: 1 },
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === "object-start") controller.abort(new Error("SIGINT"));
      },
    });
    const summary = await job;
    release();
    assert.deepEqual(
      summary.outcomes.map((o) => [o.name, o.status, o.errorCode]),
      [
        ["a-1", "aborted", "JOB_ABORTED"],
        ["b-1", "aborted", "JOB_ABORTED"],
      ],
    );
    assert.deepEqual(hv.openSnapshots(), {});
    assert.equal(repo.points.length, 0);
    assert.ok(!hv.calls.some((c) => c.startsWith("createSnapshot b-1")), "b-1 was never snapshotted");
    assert.equal(summary.exitCode, 1);
  });

  it("commits and reports ok a VM whose point was written when SIGINT came", async () => {
    const hv = new FakeHypervisor();
    const repo = new FakeRepository();
    const controller = new AbortController();
    addVm(hv, "a-1");
    addVm(hv, "b-1");
    const commit = hv.commitSnapshot.bind(hv);
    hv.commitSnapshot = (v, snapshot, signal) => {
      // The signal comes after a-1's point was written, before its commit.
      if (v.name === "a-1") controller.abort(new Error("SIGINT"));
      return commit(v, snapshot, signal);
    };
    const summary = await cycle(hv, repo, { limits: { global: 1 }, signal: controller.signal });
    const a = outcome(summary, "a-1");
    assert.equal(a.status, "ok", JSON.stringify(a.messages));
    assert.ok(a.point);
    assert.ok(
      hv.calls.includes("commitSnapshot a-1 snapvisor-backup-job-1"),
      "committed: the next backup is incremental",
    );
    assert.deepEqual(
      summary.outcomes.map((o) => [o.name, o.status]),
      [
        ["a-1", "ok"],
        ["b-1", "aborted"],
      ],
    );
    assert.equal(repo.points.length, 1);
    assert.deepEqual(hv.openSnapshots(), {});
  });

  it("sweeps a snapshot the hypervisor made although the create call failed", async () => {
    const hv = new FakeHypervisor();
    const repo = new FakeRepository();
    addVm(hv, "app-1", { snapshots: ["before-upgrade"] }).faults.failAfterCreate = true;
    const o = outcome(await cycle(hv, repo), "app-1");
    assert.equal(o.status, "failed");
    assert.equal(o.errorCode, "BAD_ANSWER");
    assert.match(o.messages.join(" "), /removed the half-made snapshot "snapvisor-backup-job-1"/);
    assert.deepEqual(hv.openSnapshots(), { "app-1": ["before-upgrade"] });
  });

  it("fails the groups of a source whose inventory fails and backs up the other sources", async () => {
    const hv = new FakeHypervisor();
    addVm(hv, "app-1");
    const down = new FakeHypervisor();
    down.inventory = async () => {
      throw new SnapvisorError(
        "VSPHERE_UNREACHABLE",
        "Cannot connect to https://vc2.example/sdk: ECONNREFUSED",
      );
    };
    const cfg = validateConfig({
      vsphere: ["vc1", "vc2"].map((name) => ({
        name,
        url: `https://${name}.example/sdk`,
        user: "u",
        password: { env: "P" },
      })),
      repository: { path: "/r" },
      protectionGroups: [
        { name: "one", source: "vc1", vms: [{ pattern: "*" }] },
        { name: "two", source: "vc2", vms: [{ pattern: "*" }] },
      ],
    });
    const { summary } = await runBackupCycle({
      config: cfg,
      sessions: new Map([
        ["vc1", hv],
        ["vc2", down],
      ]),
      repository: new FakeRepository(),
      clock,
      jobId: "job-1",
    });
    assert.deepEqual(
      summary.outcomes.map((o) => [o.kind, o.name, o.status, o.errorCode]),
      [
        ["source", "vc2", "failed", "VSPHERE_UNREACHABLE"],
        ["vm", "app-1", "ok", undefined],
      ],
    );
    assert.match(
      summary.outcomes[0]?.messages[0] ?? "",
      /Cannot list the VMs of "vc2" \(groups two not backed up\): Cannot connect/,
    );
    assert.equal(summary.exitCode, 1);
  });

  it("keeps open snapshots per datastore and snapshots per host within the limits", async () => {
    const hv = new FakeHypervisor();
    const repo = new FakeRepository();
    for (let i = 0; i < 12; i++) {
      addVm(hv, `vm-${i}`, { host: `esx${i % 3}` }, [disk("2000", { datastore: `ds${i % 2}` })]);
    }
    const summary = await cycle(hv, repo, {
      limits: { global: 8, perHost: 3, perDatastore: 8, openSnapshotsPerDatastore: 2 },
    });
    assert.equal(summary.exitCode, 0);
    assert.deepEqual(Object.fromEntries(hv.maxOpenPerDatastore), { ds0: 2, ds1: 2 });
    for (const [host, max] of hv.maxActivePerHost) assert.ok(max <= 3, `${host}: ${max}`);
  });

  it("falls back to crash with a warning when the quiesce fails under prefer-application", async () => {
    const hv = new FakeHypervisor();
    const repo = new FakeRepository();
    addVm(hv, "sql-1").faults.quiesceFailures = 5;
    const summary = await cycle(hv, repo, {
      groups: [{ name: "g", source: "vc1", vms: [{ pattern: "*" }], policy: { quiesceAttempts: 2 } }],
    });
    const o = outcome(summary, "sql-1");
    assert.equal(o.status, "warning");
    assert.deepEqual(o.consistency, {
      expected: "application",
      achieved: "crash",
      reason: "quiesce failed 2 times (ApplicationQuiesceFault): took a crash-consistent snapshot",
    });
    assert.equal(repo.points[0]?.consistency.achieved, "crash");
    assert.equal(summary.exitCode, 3);
  });

  it("fails the VM without a point when the quiesce fails under require-application", async () => {
    const hv = new FakeHypervisor();
    const repo = new FakeRepository();
    addVm(hv, "sql-1").faults.quiesceFailures = 5;
    const summary = await cycle(hv, repo, {
      groups: [
        { name: "g", source: "vc1", vms: [{ pattern: "*" }], policy: { consistency: "require-application" } },
      ],
    });
    const o = outcome(summary, "sql-1");
    assert.equal(o.status, "failed");
    assert.equal(o.errorCode, "QUIESCE_FAILED");
    assert.equal(repo.points.length, 0);
    assert.deepEqual(hv.openSnapshots(), {});
    assert.equal(summary.exitCode, 1);
  });

  it("refuses without a snapshot a require-application VM whose tools are not running", async () => {
    const hv = new FakeHypervisor();
    const repo = new FakeRepository();
    addVm(hv, "sql-1", { tools: "not-running", toolsDetail: "toolsRunningStatus is guestToolsNotRunning" });
    const summary = await cycle(hv, repo, {
      groups: [
        { name: "g", source: "vc1", vms: [{ pattern: "*" }], policy: { consistency: "require-application" } },
      ],
    });
    const o = outcome(summary, "sql-1");
    assert.equal(o.errorCode, "CONSISTENCY_NOT_MET");
    assert.match(
      o.messages[0] ?? "",
      /VMware Tools not running \(toolsRunningStatus is guestToolsNotRunning\)/,
    );
    assert.deepEqual(hv.calls, []);
  });

  it("copies a cleanly powered-off VM without asking for a quiesce and records it application-consistent", async () => {
    const hv = new FakeHypervisor();
    const repo = new FakeRepository();
    addVm(hv, "off-1", {
      power: "off",
      tools: "not-running",
      lastShutdown: "clean",
      lastShutdownDetail: "runtime.cleanPowerOff is true",
    });
    const o = outcome(await cycle(hv, repo), "off-1");
    assert.ok(hv.calls.includes("createSnapshot off-1 crash"));
    assert.equal(o.consistency?.achieved, "application");
    assert.equal(o.status, "ok");
  });

  it("removes its own leftover snapshots before the run and never a user's", async () => {
    const hv = new FakeHypervisor();
    const repo = new FakeRepository();
    addVm(hv, "app-1", { snapshots: [`${SNAPSHOT_PREFIX}job-0`, "before-upgrade"] });
    const o = outcome(await cycle(hv, repo), "app-1");
    assert.deepEqual(o.leftoversRemoved, [`${SNAPSHOT_PREFIX}job-0`]);
    assert.deepEqual(hv.openSnapshots(), { "app-1": ["before-upgrade"] });
  });

  it("keeps the written point and warns when the snapshot cannot be committed", async () => {
    const hv = new FakeHypervisor();
    const repo = new FakeRepository();
    addVm(hv, "app-1").faults.commitFailure = true;
    const summary = await cycle(hv, repo);
    const o = outcome(summary, "app-1");
    assert.equal(o.status, "warning");
    assert.ok(o.point);
    assert.equal(repo.points.length, 1);
    assert.match(
      o.messages.join(" "),
      /could not be committed \(the next backup reads in full\): ConvertToReferencePoint failed/,
    );
    assert.deepEqual(hv.openSnapshots(), {});
  });

  it("warns when the backup snapshot cannot be removed", async () => {
    const hv = new FakeHypervisor();
    const repo = new FakeRepository();
    addVm(hv, "app-1").faults.removeFailure = true;
    const summary = await cycle(hv, repo);
    const o = outcome(summary, "app-1");
    assert.equal(o.status, "warning");
    assert.match(
      o.messages.join(" "),
      /backup snapshot "snapvisor-backup-job-1" could not be removed: RemoveSnapshot_Task/,
    );
    assert.equal(summary.exitCode, 3);
  });

  it("reports a VM added and one removed between runs; the new one is full, the kept one incremental", async () => {
    const hv = new FakeHypervisor();
    const repo = new FakeRepository();
    addVm(hv, "keep-1");
    const gone = addVm(hv, "gone-1");
    const first = await cycle(hv, repo);
    hv.vms.delete(gone.info.id);
    addVm(hv, "new-1");
    const second = await cycle(hv, repo, { previous: first, jobId: "job-2" });
    assert.deepEqual(second.changes, [{ group: "all", added: ["new-1"], removed: ["gone-1"] }]);
    assert.equal(outcome(second, "new-1").disks[0]?.mode, "full");
    assert.equal(outcome(second, "keep-1").disks[0]?.mode, "incremental");
  });

  it("reads a shared disk once per cycle, as the cluster's object, referenced by each VM's point", async () => {
    const hv = new FakeHypervisor();
    const repo = new FakeRepository();
    const sharedSpec = disk("scsi0:1", {
      path: "C:\\ClusterStorage\\v1\\quorum.vhdx",
      datastore: "v1",
      shared: true,
    });
    const a = addVm(hv, "fs-1", { cluster: "c1", host: "n1" }, [disk("scsi0:0", { datastore: "v1" })]);
    const b = addVm(hv, "fs-2", { cluster: "c1", host: "n2" }, [disk("scsi0:0", { datastore: "v1" })]);
    const sharedDisk = new FakeDisk(sharedSpec, "uuid-quorum");
    sharedDisk.write(0, fill(1000, 9));
    a.disks.push(sharedDisk);
    b.disks.push(sharedDisk);
    const summary = await cycle(hv, repo);
    assert.equal(summary.exitCode, 0, JSON.stringify(summary.outcomes));
    const sharedPoints = repo.points.filter((p) => p.machine.kind === "shared-disk");
    assert.equal(sharedPoints.length, 1);
    assert.deepEqual(sharedPoints[0]?.disks.get("shared")?.data, sharedDisk.data);
    for (const name of ["fs-1", "fs-2"]) {
      const p = repo.points.find((x) => x.machine.name === name);
      assert.deepEqual([...(p?.disks.keys() ?? [])], ["scsi0:0"]);
      assert.deepEqual(p?.references, [
        {
          key: "scsi0:1",
          machineId: sharedDiskId("c1", "C:\\ClusterStorage\\v1\\quorum.vhdx"),
          pointId: sharedPoints[0]?.id,
        },
      ]);
    }
    assert.equal(outcome(summary, "c1:C:\\ClusterStorage\\v1\\quorum.vhdx").status, "ok");
  });
});
