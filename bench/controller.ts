/**
 * Controller overhead, without hypervisor or disk I/O cost: planning N VMs (selection, consistency
 * decision, per-disk bases, shared disks) and running a job over an in-memory hypervisor and
 * repository with small disks under the default limits.
 * Usage: npm run build && node dist/bench/controller.js [vms=1000] [jobVms=50]
 * Figures are the best of three runs.
 */
import { performance } from "node:perf_hooks";
import { runBackupJob } from "../src/controller/backup-job.js";
import { validateConfig } from "../src/controller/config.js";
import { Limiter } from "../src/controller/limits.js";
import { planBackup } from "../src/controller/plan.js";
import type { VmInfo } from "../src/domain/hypervisor.js";
import type { LatestPoint } from "../src/domain/repository-port.js";
import { FakeDisk, FakeHypervisor } from "../test/fakes/fake-hypervisor.js";
import { FakeRepository } from "../test/fakes/fake-repository.js";

const vmCount = Number(process.argv[2] ?? 1000);
const jobVms = Number(process.argv[3] ?? 50);
const MiB = 1024 * 1024;

const config = validateConfig({
  vsphere: [{ name: "vc1", url: "https://vc1.example/sdk", user: "u", password: { env: "P" } }],
  repository: { path: "/repo" },
  protectionGroups: [
    {
      name: "sql",
      source: "vc1",
      vms: [{ pattern: "sql-*" }],
      policy: { consistency: "require-application" },
    },
    { name: "web", source: "vc1", vms: [{ pattern: "web-*" }], exclude: [{ pattern: "*-template" }] },
    { name: "rest", source: "vc1", vms: [{ pattern: "*" }], policy: { consistency: "crash-only" } },
  ],
});

function vmInfo(i: number): VmInfo {
  const prefix = ["sql", "web", "app", "dc"][i % 4] ?? "app";
  return {
    id: `id-${i}`,
    name: `${prefix}-${i}`,
    hypervisor: "vsphere",
    ref: `vm-${i}`,
    host: `esx${i % 16}`,
    guestOs: i % 3 === 0 ? "linux" : "windows",
    power: i % 10 === 0 ? "off" : "on",
    tools: i % 7 === 0 ? "not-running" : "running",
    toolsDetail: "toolsRunningStatus is guestToolsRunning",
    lastShutdown: i % 20 === 0 ? "clean" : "unknown",
    lastShutdownDetail: "",
    disks: [0, 1].map((d) => ({
      key: String(2000 + d),
      label: `Hard disk ${d + 1}`,
      capacity: 40 * 1024 * MiB,
      path: `[ds${i % 8}] vm-${i}/disk-${d}.vmdk`,
      datastore: `ds${i % 8}`,
      changeTracking: true,
      shared: false,
    })),
    snapshots: [],
  };
}

async function best(label: string, fn: () => Promise<void>): Promise<void> {
  let min = Infinity;
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await fn();
    min = Math.min(min, performance.now() - t);
  }
  console.log(`${label}: ${min.toFixed(1)} ms`);
}

const inventory = Array.from({ length: vmCount }, (_, i) => vmInfo(i));
const latest = new Map<string, LatestPoint>(
  inventory.map((v) => [
    v.id,
    {
      id: `p-${v.id}`,
      takenAt: new Date(0),
      disks: v.disks.map((d) => ({ key: d.key, capacity: d.capacity, changeId: "u/1" })),
    },
  ]),
);
await best(`plan of ${vmCount} VMs (2 disks each, 3 groups)`, async () => {
  planBackup({
    inventory: [{ source: "vc1", vms: inventory }],
    groups: config.protectionGroups,
    latest,
    now: new Date(),
  });
});

await best(
  `job of ${jobVms} VMs (1 MiB disks, in-memory hypervisor and repository, default limits)`,
  async () => {
    const hv = new FakeHypervisor();
    for (let i = 0; i < jobVms; i++) {
      const { disks, snapshots, ...info } = {
        ...vmInfo(i * 4 + 2),
        power: "on" as const,
        tools: "running" as const,
      };
      void snapshots;
      const fakeDisks = disks.map((d) => new FakeDisk({ ...d, capacity: MiB }, `u-${i}-${d.key}`));
      for (const d of fakeDisks) d.write(0, new Uint8Array(64 * 1024).fill(i + 1));
      hv.add({ info, disks: fakeDisks, snapshots: [], faults: {} });
    }
    const plan = planBackup({
      inventory: [{ source: "vc1", vms: await hv.inventory() }],
      groups: config.protectionGroups,
      latest: new Map(),
      now: new Date(),
    });
    const summary = await runBackupJob({
      jobId: "bench",
      plan,
      sessions: new Map([["vc1", hv]]),
      repository: new FakeRepository(),
      limiter: new Limiter(config.limits),
      clock: { now: () => new Date() },
    });
    if (summary.exitCode !== 0) throw new Error(`bench job ended with exit ${summary.exitCode}`);
  },
);
