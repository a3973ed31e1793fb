/**
 * The controller through the real protocols (issue 6's benchmark): inventory + plan of N VMs from
 * the vSphere simulator over SOAP/HTTPS, then one backup job of M of them under the configured
 * limits into a local repository, through the adapter, the controller and the repository writer.
 * Usage: npm run build && node dist/bench/controller-sim.js [inventoryVms=1000] [jobVms=50]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { connectVsphere } from "../adapters/vsphere/index.js";
import { runBackupCycle } from "../src/controller/backup-cycle.js";
import { validateConfig } from "../src/controller/config.js";
import { planBackup } from "../src/controller/plan.js";
import { LocalStorage } from "../src/repository/local-storage.js";
import { Repository } from "../src/repository/repository.js";
import { repositoryWriter } from "../src/repository/repository-writer.js";
import { startVsphereSimulator, type ScenarioInput } from "../simulators/vsphere/index.js";

const inventoryVms = Number(process.argv[2] ?? 1000);
const jobVms = Number(process.argv[3] ?? 50);
const MiB = 1024 * 1024;

function scenario(): ScenarioInput {
  const hosts = Array.from({ length: 8 }, (_, i) => ({ name: `esx-${i}` }));
  return {
    credentials: { user: "bench", password: "bench-pw" },
    datacenters: [
      {
        name: "DC",
        datastores: Array.from({ length: 4 }, (_, i) => ({ name: `ds-${i}` })),
        clusters: [{ name: "C", hosts }],
        vms: Array.from({ length: inventoryVms }, (_, i) => ({
          name: `vm-${String(i).padStart(4, "0")}`,
          host: `esx-${i % 8}`,
          guest: { id: "windows9Server64Guest", fullName: "Microsoft Windows Server 2016 or later (64-bit)" },
          tools: "running" as const,
          power: "on" as const,
          changeTracking: true,
          disks: [
            {
              capacity: 8 * MiB,
              datastore: `ds-${i % 4}`,
              data: [{ offset: 0, length: 2 * MiB, seed: i + 1 }],
            },
          ],
        })),
      },
    ],
  };
}

const dir = mkdtempSync(join(tmpdir(), "snapvisor-bench-controller-"));
const sim = await startVsphereSimulator({ scenario: scenario(), dir: join(dir, "sim") });
try {
  const input = {
    url: sim.sdkUrl,
    username: "bench",
    password: "bench-pw",
    tls: { thumbprint: sim.thumbprint },
  };
  const session = await connectVsphere(input);
  const config = validateConfig({
    vsphere: [
      {
        name: "sim",
        url: sim.sdkUrl,
        user: "bench",
        password: { env: "X" },
        tls: { thumbprint: sim.thumbprint },
      },
    ],
    repository: { path: join(dir, "repo") },
    protectionGroups: [{ name: "bench", source: "sim", vms: [{ pattern: "vm-0*" }] }],
    limits: { global: 8, perHost: 2, perDatastore: 2, openSnapshotsPerDatastore: 4 },
  });
  let t = performance.now();
  const vms = await session.inventory();
  const inventoryMs = performance.now() - t;
  t = performance.now();
  const plan = planBackup({
    inventory: [{ source: "sim", vms }],
    groups: config.protectionGroups,
    latest: new Map(),
    now: new Date(),
  });
  const planMs = performance.now() - t;
  console.log(
    `inventory of ${vms.length} VMs over SOAP/HTTPS: ${inventoryMs.toFixed(0)} ms; plan: ${planMs.toFixed(0)} ms ` +
      `(${plan.vms.filter((p) => p.status === "include").length} included); total ${(inventoryMs + planMs).toFixed(0)} ms (target < 5000)`,
  );

  const repo = await Repository.init(new LocalStorage(join(dir, "repo")));
  const names = vms.slice(0, jobVms).map((v) => v.name);
  t = performance.now();
  const { summary } = await runBackupCycle({
    config,
    sessions: new Map([["sim", session]]),
    repository: repositoryWriter(repo),
    clock: { now: () => new Date() },
    jobId: "bench",
    vmNames: names,
  });
  const jobMs = performance.now() - t;
  const ok = summary.outcomes.filter((o) => o.status === "ok").length;
  const read = summary.outcomes.reduce((n, o) => n + (o.point?.bytesRead ?? 0), 0);
  console.log(
    `job of ${names.length} VMs (limits: 8 global, 2 per host, 2 per datastore, 4 open snapshots per datastore): ` +
      `${(jobMs / 1000).toFixed(1)} s, ${ok} ok, ${(read / MiB).toFixed(0)} MiB read, exit ${summary.exitCode}`,
  );
  await session.close();
} finally {
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
}
