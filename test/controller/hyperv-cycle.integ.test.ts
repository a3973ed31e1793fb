/**
 * A backup cycle end to end on Hyper-V: the controller drives the Hyper-V adapter (PowerShell and
 * WMI through the simulator's executable, SFTP for the read-failure case) against the simulated
 * cluster, into the repository engine. Every consistency case of the lab, restores byte-identical to
 * the host's disks at checkpoint time, incrementals, an RCT reset, quiesce failures under both
 * policies, a read failure and a SIGINT, and never a checkpoint left behind.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { HypervSession } from "../../adapters/hyperv/index.js";
import { runBackupCycle } from "../../src/controller/backup-cycle.js";
import type { Config } from "../../src/controller/config-schema.js";
import type { JobSummary } from "../../src/controller/job-summary.js";
import type { VmInfo } from "../../src/domain/hypervisor.js";
import { MemoryStorage } from "../../src/repository/memory-storage.js";
import { Repository } from "../../src/repository/repository.js";
import { repositoryWriter } from "../../src/repository/repository-writer.js";
import { restoreToFile } from "../../src/repository/restore.js";
import { withTempDir } from "../repository/helpers.js";
import { ourCheckpoints, startLab, type Lab } from "../adapters/hyperv/harness.js";
import { config } from "./builders.js";

let lab: Lab;
let session: HypervSession;
let repo: Repository;
let first: JobSummary;
let vms: readonly VmInfo[];

const all = config([{ name: "all", source: "c1", vms: [{ pattern: "*" }], sharedDisks: "all" }]);

function cycle(jobId: string, options: { cfg?: Config; session?: HypervSession; signal?: AbortSignal } = {}) {
  return runBackupCycle({
    config: options.cfg ?? all,
    sessions: new Map([["c1", options.session ?? session]]),
    repository: repositoryWriter(repo),
    clock: { now: () => new Date() },
    jobId,
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/** The virtual disk as the host holds it now, read through its active file. */
async function hostDisk(vmName: string, key: string): Promise<Buffer> {
  const d = vms.find((v) => v.name === vmName)?.disks.find((x) => x.key === key);
  assert.ok(d, `${vmName} ${key}`);
  const model = lab.sim.model.diskOfFile(d.path);
  assert.ok(model, d.path);
  const active = model.chain[model.chain.length - 1] ?? model.basePath;
  return Buffer.from(await lab.sim.control.readDisk(active, 0, model.size));
}

async function restoredLatest(machineId: string, key: string): Promise<Buffer> {
  const ref = await repo.latestPoint(machineId);
  assert.ok(ref, `a point of ${machineId}`);
  return withTempDir(async (dir) => {
    await restoreToFile(repo, ref, key, join(dir, "d.raw"));
    return readFile(join(dir, "d.raw"));
  });
}

function outcome(summary: JobSummary, name: string) {
  const o = summary.outcomes.find((x) => x.name === name);
  assert.ok(o, `${name} in ${summary.outcomes.map((x) => x.name).join(", ")}`);
  return o;
}

describe("runBackupCycle() with the Hyper-V adapter and simulator", () => {
  before(async () => {
    lab = await startLab();
    session = lab.session("local");
    vms = await session.inventory();
    repo = await Repository.init(new MemoryStorage(), { chunkSize: 64 * 1024 });
    first = (await cycle("hv-1")).summary;
  });
  after(async () => lab?.close());

  it("backs up every VM at the level its facts allow (the consistency table and DESIGN.md §1)", () => {
    assert.equal(first.exitCode, 0, JSON.stringify(first.outcomes, null, 1));
    const levels = Object.fromEntries(
      first.outcomes
        .filter((o) => o.kind === "vm")
        .map((o) => [o.name, `${o.consistency?.expected}/${o.consistency?.achieved}`]),
    );
    assert.deepEqual(levels, {
      "sql-01": "application/application", // IS running, on
      "web-02": "crash/crash", // IS not installed, on
      "app-03": "application/application", // IS installed, off after a guest shutdown (18508)
      "app-04": "crash/crash", // installed, turned off (18502)
      "legacy-05": "application/application", // not installed, off after a host shutdown (18504)
      "legacy-06": "crash/crash", // not installed, off after a critical stop (18528)
      "vssoff-07": "crash/crash", // installed, VSS service disabled: not available
      "lin-08": "filesystem/filesystem", // Linux guest: no VSS writers
      "saved-09": "crash/crash", // Saved
      "nolog-10": "crash/crash", // off with no halt event: unknown counts as dirty
      "gc-node-a": "application/application",
      "gc-node-b": "application/application",
      "fs-13": "application/application",
      "chk-14": "application/application", // through a user checkpoint's chain
    });
    for (const o of first.outcomes.filter((x) => x.kind === "vm"))
      assert.ok(o.consistency?.reason, `${o.name} says why`);
    assert.deepEqual(ourCheckpoints(lab.sim), []);
  });

  it("restores every disk, and the shared VHDX, byte for byte as the host holds them", async () => {
    for (const o of first.outcomes.filter((x) => x.kind === "vm")) {
      for (const d of o.disks)
        assert.ok(
          (await restoredLatest(o.id, d.key)).equals(await hostDisk(o.name, d.key)),
          `${o.name} ${d.key}`,
        );
    }
    const shared = first.outcomes.find((o) => o.kind === "shared-disk" && o.status === "ok");
    assert.ok(shared?.point);
    const manifest = await repo.readManifest({ machineId: shared.id, pointId: shared.point.id });
    const key = manifest.disks[0]?.key ?? "";
    assert.ok((await restoredLatest(shared.id, key)).equals(await hostDisk("gc-node-a", "scsi0:1")));
  });

  it("reads only the areas written since, and leaves no checkpoint", async () => {
    await lab.sim.control.writePattern("sql-01", 1, 5 * 2 ** 20 + 100, 6000, 41);
    const { summary } = await cycle("hv-2");
    assert.equal(summary.exitCode, 0, JSON.stringify(summary.outcomes));
    const sql = outcome(summary, "sql-01");
    assert.deepEqual(
      sql.disks.map((d) => [d.key, d.mode]),
      [
        ["scsi0:0", "incremental"],
        ["scsi0:1", "incremental"],
      ],
    );
    assert.ok((sql.point?.bytesRead ?? Infinity) <= 64 * 1024, `read ${sql.point?.bytesRead} bytes`);
    const atCheckpoint = await hostDisk("sql-01", "scsi0:1");
    // The guest keeps writing after the backup: the point still holds the disk as it was.
    await lab.sim.control.writePattern("sql-01", 1, 5 * 2 ** 20, 8192, 45);
    const restored = await restoredLatest(sql.id, "scsi0:1");
    assert.ok(restored.equals(atCheckpoint));
    assert.ok(!restored.equals(await hostDisk("sql-01", "scsi0:1")), "the later write is not in the point");
    assert.deepEqual(ourCheckpoints(lab.sim), []);
  });

  it("keeps a guest write made while the checkpoint is open out of the point, and in the next one", async () => {
    const before = await hostDisk("sql-01", "scsi0:0");
    let during: Promise<void> | undefined;
    const { summary } = await runBackupCycle({
      config: config([{ name: "sql", source: "c1", vms: [{ name: "sql-01" }] }]),
      sessions: new Map([["c1", session]]),
      repository: repositoryWriter(repo),
      clock: { now: () => new Date() },
      jobId: "hv-during",
      // The checkpoint is taken before the read starts: this write goes to the new differencing disk.
      onEvent: (e) => {
        if (e.type === "object-start")
          during ??= lab.sim.control.writePattern("sql-01", 0, 2 ** 20, 65536, 46);
      },
    });
    await during;
    const sql = outcome(summary, "sql-01");
    assert.equal(sql.status, "ok", JSON.stringify(sql));
    assert.ok(
      (await restoredLatest(sql.id, "scsi0:0")).equals(before),
      "the point is the disk at checkpoint time",
    );
    const after = await hostDisk("sql-01", "scsi0:0");
    assert.ok(!after.equals(before), "the write reached the disk");
    const sqlOnly = config([{ name: "sql", source: "c1", vms: [{ name: "sql-01" }] }]);
    const next = outcome((await cycle("hv-after", { cfg: sqlOnly })).summary, "sql-01");
    assert.equal(next.disks[0]?.mode, "incremental");
    assert.ok((await restoredLatest(sql.id, "scsi0:0")).equals(after), "and is in the next point");
  });

  it("reads a disk in full, with the virtdisk code as the reason, after an RCT reset", async () => {
    const path = vms.find((v) => v.name === "lin-08")?.disks[0]?.path ?? "";
    lab.sim.control.addFault({ kind: "rct-invalid", disk: path, code: "0xC03A0029", times: 1 });
    await lab.sim.control.writePattern("lin-08", 0, 2 ** 20, 4096, 42);
    const { summary } = await cycle("hv-3", {
      cfg: config([{ name: "lin", source: "c1", vms: [{ name: "lin-08" }, { name: "web-02" }] }]),
    });
    const lin = outcome(summary, "lin-08");
    assert.equal(lin.disks[0]?.mode, "full");
    assert.match(lin.disks[0]?.reason ?? "", /0xC03A0029/);
    assert.equal(outcome(summary, "web-02").disks[0]?.mode, "incremental", "the other VM is not affected");
    assert.ok((await restoredLatest(lin.id, "scsi0:0")).equals(await hostDisk("lin-08", "scsi0:0")));
    assert.deepEqual(ourCheckpoints(lab.sim), []);
  });

  it("falls back to crash with a warning when VSS keeps failing under prefer-application", async () => {
    lab.sim.control.addFault({ kind: "vss-failure", vm: "sql-01", times: 3 });
    const { summary } = await cycle("hv-4", {
      cfg: config([{ name: "sql", source: "c1", vms: [{ name: "sql-01" }], policy: { quiesceAttempts: 3 } }]),
    });
    const sql = outcome(summary, "sql-01");
    assert.equal(sql.status, "warning", JSON.stringify(sql));
    assert.equal(sql.consistency?.expected, "application");
    assert.equal(sql.consistency?.achieved, "crash");
    assert.match(sql.consistency?.reason ?? "", /failed 3 time\(s\)/);
    // Expected and achieved land on the recovery point itself, with the reason.
    assert.ok(sql.point);
    const manifest = await repo.readManifest({ machineId: sql.id, pointId: sql.point.id });
    assert.deepEqual(manifest.consistency, sql.consistency);
    assert.equal(summary.exitCode, 3);
    assert.deepEqual(lab.sim.model.faults.list(), [], "all three attempts were made");
    assert.deepEqual(ourCheckpoints(lab.sim), []);
  });

  it("fails a require-application VM whose VSS keeps failing, with no point and no checkpoint", async () => {
    lab.sim.control.addFault({ kind: "vss-failure", vm: "sql-01", times: 3 });
    const before = (await repo.listPoints()).length;
    const { summary } = await cycle("hv-5", {
      cfg: config([
        {
          name: "sql",
          source: "c1",
          vms: [{ name: "sql-01" }],
          policy: { consistency: "require-application" },
        },
      ]),
    });
    const sql = outcome(summary, "sql-01");
    assert.equal(sql.status, "failed");
    assert.equal(sql.errorCode, "HYPERV_QUIESCE_FAILED");
    assert.equal(summary.exitCode, 1);
    assert.equal((await repo.listPoints()).length, before);
    assert.deepEqual(ourCheckpoints(lab.sim), []);
    lab.sim.control.clearFaults();
  });

  it("fails only the VM whose disk cannot be read (over SFTP), and removes its checkpoint", async () => {
    // 8 MiB changed; the failure comes once 2 MiB were served: the checkpoint is taken, the disk
    // opened (its headers read) and the repository is reading data when the volume fails.
    await lab.sim.control.writePattern("web-02", 0, 0, 8 * 2 ** 20, 43);
    lab.sim.control.addFault({ kind: "read-failure", vm: "web-02", afterBytes: 2 * 2 ** 20, times: 1 });
    const before = (await repo.listPoints()).length;
    try {
      const { summary } = await cycle("hv-6", {
        session: lab.session("ssh"),
        cfg: config([{ name: "two", source: "c1", vms: [{ name: "web-02" }, { name: "sql-01" }] }]),
      });
      const byName = Object.fromEntries(
        summary.outcomes.filter((o) => o.kind === "vm").map((o) => [o.name, o.status]),
      );
      assert.deepEqual(byName, { "sql-01": "ok", "web-02": "failed" }, JSON.stringify(summary.outcomes));
      const web = outcome(summary, "web-02");
      assert.match(web.messages.join(" "), /I\/O device error/);
      assert.deepEqual(
        web.disks.map((d) => d.mode),
        ["incremental"],
        "the read failed after the disk was opened",
      );
      assert.equal(summary.exitCode, 1);
      assert.equal((await repo.listPoints()).length, before + 1);
      assert.deepEqual(ourCheckpoints(lab.sim), []);
    } finally {
      lab.sim.control.clearFaults();
    }
  });

  it("on SIGINT mid-job, stops, removes every checkpoint and writes no partial point", async () => {
    for (const vm of ["sql-01", "web-02", "lin-08", "chk-14"])
      await lab.sim.control.writePattern(vm, 0, 0, 256 * 1024, 44);
    const controller = new AbortController();
    const before = (await repo.listPoints()).length;
    const { summary } = await runBackupCycle({
      config: all,
      sessions: new Map([["c1", session]]),
      repository: repositoryWriter(repo),
      clock: { now: () => new Date() },
      jobId: "hv-abort",
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === "object-start") controller.abort(new Error("SIGINT"));
      },
    });
    const statuses = summary.outcomes.filter((o) => o.kind === "vm").map((o) => o.status);
    // A VM whose point was complete when the signal came stays ok; nothing else finishes.
    assert.ok(
      statuses.every((x) => x === "aborted" || x === "ok"),
      JSON.stringify(summary.outcomes.map((o) => [o.name, o.status, o.messages])),
    );
    assert.ok(statuses.filter((x) => x === "aborted").length >= 10, JSON.stringify(statuses));
    assert.equal(summary.exitCode, 1);
    // A point is only ever reported with an ok VM: written means committed.
    assert.ok(
      summary.outcomes.every((o) => o.point === undefined || o.status === "ok"),
      JSON.stringify(summary.outcomes.map((o) => [o.name, o.status, o.point !== undefined])),
    );
    const ok = summary.outcomes.filter((o) => o.status === "ok" && o.point).length;
    assert.equal(
      (await repo.listPoints()).length,
      before + ok,
      JSON.stringify(summary.outcomes.map((o) => [o.name, o.status, !!o.point, o.messages])),
    );
    assert.deepEqual(ourCheckpoints(lab.sim), []);
    assert.deepEqual(
      (lab.sim.control.state() as { openCheckpoints: unknown }).openCheckpoints,
      {
        perCsv: { "C:\\ClusterStorage\\Volume2": 1 },
        perHost: { HV02: 1 },
      },
      "only the user's checkpoint of chk-14 is left",
    );
  });
});
