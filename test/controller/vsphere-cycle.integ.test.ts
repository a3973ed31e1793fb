/**
 * A backup cycle end to end: the controller drives the vSphere adapter over SOAP against the
 * vSphere simulator, into the repository engine. Consistency per case, an incremental after guest
 * writes, restores byte-identical to the simulator's disk at snapshot time, no snapshot left behind.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { connectVsphere, type VsphereSession } from "../../adapters/vsphere/index.js";
import { runBackupCycle } from "../../src/controller/backup-cycle.js";
import type { JobSummary } from "../../src/controller/job-summary.js";
import { MemoryStorage } from "../../src/repository/memory-storage.js";
import { Repository } from "../../src/repository/repository.js";
import { repositoryWriter } from "../../src/repository/repository-writer.js";
import { restoreToFile } from "../../src/repository/restore.js";
import { withTempDir } from "../repository/helpers.js";
import { PASSWORD, USER, scenario, startLab, vmSpec, type Lab } from "../simulators/vsphere/helpers.js";
import { config } from "./builders.js";

const linux = { id: "ubuntu64Guest", fullName: "Ubuntu Linux (64-bit)" };
let lab: Lab;
let session: VsphereSession;
let repo: Repository;
let first: JobSummary;

const cfg = config([{ name: "all", source: "vc1", vms: [{ pattern: "*" }] }]);

function cycle(jobId: string) {
  return runBackupCycle({
    config: cfg,
    sessions: new Map([["vc1", session]]),
    repository: repositoryWriter(repo),
    clock: { now: () => new Date() },
    jobId,
  });
}

async function content(vm: string, disk: string): Promise<Buffer> {
  const r = await lab.control("GET", `/vms/${vm}/disks/${disk}/content`);
  assert.equal(r.status, 200);
  return r.body;
}

async function restoredLatest(machineId: string, disk: string): Promise<Buffer> {
  const ref = await repo.latestPoint(machineId);
  assert.ok(ref, `a point of ${machineId}`);
  return withTempDir(async (dir) => {
    await restoreToFile(repo, ref, disk, join(dir, "d.raw"));
    return readFile(join(dir, "d.raw"));
  });
}

describe("runBackupCycle() with the vSphere adapter and simulator", () => {
  before(async () => {
    lab = await startLab(
      scenario([
        vmSpec("win-app", { changeTracking: true }),
        vmSpec("lin-db", { changeTracking: true, guest: linux }),
        vmSpec("off-clean", { power: "off", lastShutdown: "guest-shutdown", changeTracking: true }),
        vmSpec("no-tools", { tools: "not-installed", changeTracking: true }),
      ]),
    );
    session = await connectVsphere(
      {
        url: lab.sim.sdkUrl,
        username: USER,
        password: PASSWORD,
        tls: { thumbprint: lab.sim.thumbprint },
        quiesceRetryDelayMs: 0,
      },
      { sleep: async () => {} },
    );
    repo = await Repository.init(new MemoryStorage(), { chunkSize: 64 * 1024 });
    first = (await cycle("job-1")).summary;
  });
  after(async () => {
    await session?.close();
    await lab?.stop();
  });

  it("backs up every VM at the level its facts allow", () => {
    assert.equal(first.exitCode, 0, JSON.stringify(first.outcomes, null, 1));
    assert.deepEqual(
      Object.fromEntries(
        first.outcomes.map((o) => [o.name, `${o.consistency?.expected}/${o.consistency?.achieved}`]),
      ),
      {
        "lin-db": "filesystem/filesystem",
        "no-tools": "crash/crash",
        "off-clean": "application/application",
        "win-app": "application/application",
      },
    );
  });

  it("restores each disk byte for byte as the simulator holds it", async () => {
    for (const o of first.outcomes) {
      assert.ok((await restoredLatest(o.id, "2000")).equals(await content(o.name, "2000")), o.name);
    }
  });

  it("reads only the changed areas next time and leaves no snapshot", async () => {
    const w = await lab.control("POST", "/vms/win-app/write", {
      disk: 2000,
      offset: 1024 * 1024,
      length: 4096,
      seed: 7,
    });
    assert.equal(w.status, 200);
    const { summary } = await cycle("job-2");
    const win = summary.outcomes.find((o) => o.name === "win-app");
    assert.deepEqual(
      win?.disks.map((d) => d.mode),
      ["incremental"],
    );
    assert.ok((win?.point?.bytesRead ?? 0) <= 64 * 1024, `read ${win?.point?.bytesRead} bytes`);
    assert.ok((await restoredLatest(win?.id ?? "", "2000")).equals(await content("win-app", "2000")));
    for (const vm of await session.inventory()) assert.deepEqual(vm.snapshots, [], vm.name);
  });

  it("reads a disk in full, saying why, after a CBT reset", async () => {
    assert.equal((await lab.control("POST", "/vms/lin-db/cbt-reset", {})).status, 200);
    const { summary } = await cycle("job-3");
    const lin = summary.outcomes.find((o) => o.name === "lin-db");
    assert.equal(lin?.disks[0]?.mode, "full");
    assert.notEqual(lin?.disks[0]?.reason, "");
    assert.ok((await restoredLatest(lin?.id ?? "", "2000")).equals(await content("lin-db", "2000")));
  });

  it("falls back to crash with a warning when the quiesce keeps failing under prefer-application", async () => {
    await lab.control("POST", "/faults", { kind: "quiesce-failure", vm: "win-app", times: 3 });
    const { summary } = await cycle("job-4");
    const win = summary.outcomes.find((o) => o.name === "win-app");
    assert.equal(win?.status, "warning", JSON.stringify(win));
    assert.equal(win?.consistency?.achieved, "crash");
    assert.equal(summary.exitCode, 3);
  });

  it("fails only the VM whose disk cannot be read, and removes its snapshot", async () => {
    await lab.control("POST", "/faults", { kind: "host-unreachable", vm: "no-tools", afterBytes: 0 });
    try {
      const { summary } = await cycle("job-5");
      const byName = Object.fromEntries(summary.outcomes.map((o) => [o.name, o.status]));
      assert.deepEqual(byName, { "lin-db": "ok", "no-tools": "failed", "off-clean": "ok", "win-app": "ok" });
      assert.equal(summary.exitCode, 1);
      for (const vm of await session.inventory()) assert.deepEqual(vm.snapshots, [], vm.name);
    } finally {
      await lab.control("DELETE", "/faults");
    }
  });

  it("on SIGINT mid-job, stops, removes every backup snapshot and writes no partial point", async () => {
    for (const vm of ["win-app", "no-tools", "lin-db"]) {
      await lab.control("POST", `/vms/${vm}/write`, { disk: 2000, offset: 0, length: 256 * 1024, seed: 11 });
    }
    const controller = new AbortController();
    const before = (await repo.listPoints()).length;
    const { summary } = await runBackupCycle({
      config: cfg,
      sessions: new Map([["vc1", session]]),
      repository: repositoryWriter(repo),
      clock: { now: () => new Date() },
      jobId: "job-abort",
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === "object-start") controller.abort(new Error("SIGINT"));
      },
    });
    // A VM whose point was already complete when the signal came (nothing left to read) stays ok.
    const statuses = summary.outcomes.map((o) => o.status);
    assert.ok(
      statuses.every((x) => x === "aborted" || x === "ok"),
      JSON.stringify(statuses),
    );
    assert.ok(statuses.includes("aborted"), JSON.stringify(statuses));
    assert.equal(summary.exitCode, 1);
    assert.equal((await repo.listPoints()).length, before + statuses.filter((x) => x === "ok").length);
    for (const vm of await session.inventory()) assert.deepEqual(vm.snapshots, [], vm.name);
  });

  it("fails a require-application VM whose quiesce keeps failing, with no point and no snapshot", async () => {
    await lab.control("POST", "/faults", { kind: "quiesce-failure", vm: "win-app", times: 3 });
    const before = (await repo.listPoints()).length;
    const strict = config([
      {
        name: "sql",
        source: "vc1",
        vms: [{ name: "win-app" }],
        policy: { consistency: "require-application" },
      },
    ]);
    const { summary } = await runBackupCycle({
      config: strict,
      sessions: new Map([["vc1", session]]),
      repository: repositoryWriter(repo),
      clock: { now: () => new Date() },
      jobId: "job-6",
    });
    const win = summary.outcomes.find((o) => o.name === "win-app");
    assert.equal(win?.status, "failed");
    assert.equal(win?.errorCode, "VSPHERE_QUIESCE_FAILED");
    assert.equal((await repo.listPoints()).length, before);
    for (const vm of await session.inventory()) assert.deepEqual(vm.snapshots, [], vm.name);
  });
});
