/**
 * The controller on Hyper-V through the real protocols (issue 6's benchmark, Hyper-V side):
 * inventory + plan of N VMs of a two-node cluster from the Hyper-V simulator (PowerShell through
 * node-powershell's process protocol), then one backup job of M of them under limits into a local
 * repository, through the adapter, the controller and the repository writer.
 * Usage: npm run build && node dist/bench/controller-hyperv-sim.js [inventoryVms=1000] [jobVms=50]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { connectHyperv } from "../adapters/hyperv/index.js";
import { runBackupCycle } from "../src/controller/backup-cycle.js";
import { validateConfig } from "../src/controller/config.js";
import { planBackup } from "../src/controller/plan.js";
import { LocalStorage } from "../src/repository/local-storage.js";
import { Repository } from "../src/repository/repository.js";
import { repositoryWriter } from "../src/repository/repository-writer.js";
import { startHypervSimulator, type ScenarioInput } from "../simulators/hyperv/index.js";

const inventoryVms = Number(process.argv[2] ?? 1000);
const jobVms = Number(process.argv[3] ?? 50);
const MiB = 1024 * 1024;
const volumes = ["Volume1", "Volume2", "Volume3", "Volume4"].map((v) => `C:\\ClusterStorage\\${v}`);

function scenario(): ScenarioInput {
  return {
    cluster: { name: "BENCH" },
    nodes: [{ name: "HV01" }, { name: "HV02" }],
    volumes: volumes.map((path, i) => ({
      name: `Cluster Disk ${i + 1}`,
      path,
      owner: i % 2 ? "HV02" : "HV01",
    })),
    vms: Array.from({ length: inventoryVms }, (_, i) => ({
      name: `vm-${String(i).padStart(4, "0")}`,
      id: `00000000-0000-4000-8000-${String(i + 1).padStart(12, "0")}`,
      node: i % 2 ? "HV02" : "HV01",
      state: "Running" as const,
      clustered: true,
      disks: [{ path: `${volumes[i % 4] ?? ""}\\vm-${i}\\os.vhdx`, size: "8MiB" }],
      // Only the VMs of the job carry data: 1,000 written disks would measure the simulator's setup.
      writes: i < jobVms ? [{ offset: 0, length: "2MiB", seed: i + 1 }] : [],
    })),
  };
}

const dir = mkdtempSync(join(tmpdir(), "snapvisor-bench-hyperv-"));
let t = performance.now();
const sim = await startHypervSimulator({ scenario: scenario(), dir: join(dir, "sim") });
console.log(`simulator with ${inventoryVms} VMs started in ${((performance.now() - t) / 1000).toFixed(1)} s`);
try {
  const node = sim.nodes[0];
  if (!node) throw new Error("no node");
  const session = connectHyperv({
    transport: "local",
    executable: node.executable,
    filesRoot: sim.filesRoot,
  });
  const config = validateConfig({
    hyperv: { clusters: [{ name: "c", nodes: [{ name: "HV01", transport: "local" }] }] },
    repository: { path: join(dir, "repo") },
    protectionGroups: [{ name: "bench", source: "c", vms: [{ pattern: "vm-*" }] }],
    limits: { global: 8, perHost: 4, perCsv: 2, openSnapshotsPerDatastore: 4 },
  });
  t = performance.now();
  const vms = await session.inventory();
  const inventoryMs = performance.now() - t;
  t = performance.now();
  const plan = planBackup({
    inventory: [{ source: "c", vms }],
    groups: config.protectionGroups,
    latest: new Map(),
    now: new Date(),
  });
  const planMs = performance.now() - t;
  console.log(
    `inventory of ${vms.length} VMs through PowerShell: ${inventoryMs.toFixed(0)} ms; plan: ${planMs.toFixed(0)} ms ` +
      `(${plan.vms.filter((p) => p.status === "include").length} included); total ${(inventoryMs + planMs).toFixed(0)} ms (target < 5000)`,
  );

  const repo = await Repository.init(new LocalStorage(join(dir, "repo")));
  const names = vms.slice(0, jobVms).map((v) => v.name);
  sim.control.resetCheckpointCounts();
  t = performance.now();
  const { summary } = await runBackupCycle({
    config,
    sessions: new Map([["c", session]]),
    repository: repositoryWriter(repo),
    clock: { now: () => new Date() },
    jobId: "bench",
    vmNames: names,
  });
  const jobMs = performance.now() - t;
  const ok = summary.outcomes.filter((o) => o.status === "ok").length;
  const read = summary.outcomes.reduce((n, o) => n + (o.point?.bytesRead ?? 0), 0);
  const most = Math.max(...sim.model.maxOpenCheckpoints.perCsv.values());
  console.log(
    `job of ${names.length} VMs (limits: 8 global, 4 per host, 2 per CSV, 4 open checkpoints per CSV): ` +
      `${(jobMs / 1000).toFixed(1)} s, ${ok} ok, ${(read / MiB).toFixed(0)} MiB read, at most ${most} checkpoints open on a CSV, exit ${summary.exitCode}`,
  );
  await session.close();
} finally {
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
}
