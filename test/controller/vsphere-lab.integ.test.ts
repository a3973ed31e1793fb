/**
 * Every consistency case of the vSphere lab (fixtures/scenarios/vsphere-lab.yaml, the demo's
 * vCenter) backed up through the controller, the vSphere adapter and simulator: expected and
 * achieved levels per VM with their reasons, restores byte-identical, no snapshot of ours left.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { request } from "node:https";
import { join } from "node:path";
import { connectVsphere, type VsphereSession } from "../../adapters/vsphere/index.js";
import { DEMO_VSPHERE_SCENARIO } from "../../src/cli/app/lab.js";
import { runBackupCycle } from "../../src/controller/backup-cycle.js";
import type { JobSummary } from "../../src/controller/job-summary.js";
import { SNAPSHOT_PREFIX } from "../../src/domain/hypervisor.js";
import { MemoryStorage } from "../../src/repository/memory-storage.js";
import { Repository } from "../../src/repository/repository.js";
import { repositoryWriter } from "../../src/repository/repository-writer.js";
import { restoreToFile } from "../../src/repository/restore.js";
import {
  loadScenarioFile,
  startVsphereSimulator,
  type VsphereSimulator,
} from "../../simulators/vsphere/index.js";
import { withTempDir } from "../repository/helpers.js";
import { config } from "./builders.js";

describe("the vSphere lab's consistency cases through the controller", () => {
  let dir: string;
  let sim: VsphereSimulator;
  let session: VsphereSession;
  let repo: Repository;
  let summary: JobSummary;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "snapvisor-vs-lab-"));
    const scenario = await loadScenarioFile(DEMO_VSPHERE_SCENARIO);
    sim = await startVsphereSimulator({ scenario, dir });
    session = await connectVsphere(
      {
        url: sim.sdkUrl,
        username: scenario.credentials.user,
        password: scenario.credentials.password,
        tls: { thumbprint: sim.thumbprint },
        quiesceRetryDelayMs: 0,
      },
      { sleep: async () => {} },
    );
    repo = await Repository.init(new MemoryStorage(), { chunkSize: 64 * 1024 });
    ({ summary } = await runBackupCycle({
      config: config([{ name: "all", source: "vc1", vms: [{ pattern: "*" }] }]),
      sessions: new Map([["vc1", session]]),
      repository: repositoryWriter(repo),
      clock: { now: () => new Date() },
      jobId: "vs-lab",
    }));
  });
  after(async () => {
    await session?.close();
    await sim?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** GET on the simulator's control API (HTTPS with its own certificate). */
  function content(path: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const req = request(
        `${sim.controlUrl}${path}`,
        { ca: sim.certificatePem, headers: { Authorization: `Bearer ${sim.controlToken}` } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            res.statusCode === 200
              ? resolve(Buffer.concat(chunks))
              : reject(new Error(`${path}: ${res.statusCode} ${Buffer.concat(chunks).toString()}`)),
          );
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end();
    });
  }

  it("backs up every VM at the level its facts allow, saying why", () => {
    assert.equal(summary.exitCode, 0, JSON.stringify(summary.outcomes, null, 1));
    const levels = Object.fromEntries(
      summary.outcomes.map((o) => [o.name, `${o.consistency?.expected}/${o.consistency?.achieved}`]),
    );
    assert.deepEqual(levels, {
      "sql-01": "application/application", // Windows, tools running, on: VSS
      "web-01": "filesystem/filesystem", // Linux, tools running: file systems frozen only
      "app-02": "crash/crash", // tools installed but not running
      "appliance-03": "crash/crash", // no tools, on
      "file-04": "application/application", // off after a guest shutdown: clean
      "build-05": "crash/crash", // off after a host power loss: dirty
      "legacy-06": "crash/crash", // off, no evidence of how: unknown counts as dirty
      // No tools, powered off by vSphere (PowerOffVM_Task): the guest never shut down, so a hard
      // power-off is dirty whatever runtime.cleanPowerOff says about the VMX (adapters/vsphere/shutdown.ts).
      "kiosk-07": "crash/crash",
      "dev-08": "crash/crash", // suspended
      'erp <test> & "quotes"': "filesystem/filesystem", // RHEL, through a user's snapshot
    });
    for (const o of summary.outcomes) assert.ok(o.consistency?.reason, `${o.name} says why`);
  });

  it("restores every disk byte for byte as the simulator holds it, and leaves only the user's snapshot", async () => {
    for (const o of summary.outcomes) {
      const ref = await repo.latestPoint(o.id);
      assert.ok(ref, o.name);
      for (const d of o.disks) {
        const restored = await withTempDir(async (tmp) => {
          await restoreToFile(repo, ref, d.key, join(tmp, "d.raw"));
          return readFile(join(tmp, "d.raw"));
        });
        const held = await content(`/vms/${encodeURIComponent(o.name)}/disks/${d.key}/content`);
        assert.ok(restored.equals(held), `${o.name} ${d.key}`);
      }
    }
    for (const vm of await session.inventory()) {
      assert.deepEqual(
        vm.snapshots.filter((s) => s.startsWith(SNAPSHOT_PREFIX)),
        [],
        vm.name,
      );
    }
    assert.deepEqual((await session.inventory()).find((v) => v.name.startsWith("erp"))?.snapshots, [
      "before-upgrade",
    ]);
  });
});
