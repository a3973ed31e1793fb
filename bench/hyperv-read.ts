/**
 * Read throughput from a simulated Hyper-V host: a VM's disk read whole through the adapter's
 * DiskSource (VHDX reader over a local file, or over SFTP), plus the cost of one PowerShell call
 * over each transport.
 * Usage: npm run build && node dist/bench/hyperv-read.js [diskMiB=256]
 * Figures are the best of three reads.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { connectHyperv, type HypervSession } from "../adapters/hyperv/index.js";
import { startHypervSimulator } from "../simulators/hyperv/index.js";

const MiB = 2 ** 20;
const diskMiB = Number(process.argv[2] ?? 256);

const dir = await mkdtemp(join(tmpdir(), "hv-bench-"));
const sim = await startHypervSimulator({
  dir,
  scenario: {
    nodes: [{ name: "HV01" }],
    vms: [
      {
        name: "bench",
        id: "00000000-0000-4000-8000-00000000b001",
        node: "HV01",
        state: "Running",
        disks: [{ path: "C:\\VMs\\bench\\disk.vhdx", size: diskMiB * MiB, blockSize: 32 * MiB }],
        writes: [{ disk: 0, offset: 0, length: diskMiB * MiB, seed: 7 }],
      },
    ],
  },
});

async function measure(kind: "local" | "ssh"): Promise<void> {
  const n = sim.nodes[0];
  if (!n) throw new Error("no node");
  const session: HypervSession = connectHyperv(
    kind === "local"
      ? { transport: "local", executable: n.executable, filesRoot: sim.filesRoot }
      : {
          transport: "ssh",
          host: n.ssh.host,
          port: n.ssh.port,
          username: sim.credentials.username,
          password: sim.credentials.password,
          hostKeyFingerprint: n.ssh.hostKeyFingerprint,
        },
    { sleep: async () => {} },
  );
  try {
    await session.topology();
    let callMs = Infinity;
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await session.topology();
      callMs = Math.min(callMs, performance.now() - t);
    }
    const vm = (await session.inventory()).find((v) => v.name === "bench");
    if (!vm) throw new Error("bench VM missing");
    const snap = await session.createSnapshot(vm, {
      jobId: `bench-${kind}`,
      expected: "crash",
      policy: "crash-only",
      quiesceAttempts: 0,
    });
    try {
      let best = Infinity;
      for (let run = 0; run < 3; run++) {
        const source = await session.openDisk(vm, snap, "scsi0:0");
        const buf = new Uint8Array(4 * MiB);
        const t = performance.now();
        for (let at = 0; at < source.capacity; at += buf.length) await source.read(buf, at);
        best = Math.min(best, performance.now() - t);
        await source.close();
      }
      const mibps = diskMiB / (best / 1000);
      console.log(
        `${kind.padEnd(5)} read ${diskMiB} MiB in ${best.toFixed(0)} ms = ${mibps.toFixed(1)} MiB/s; one PowerShell call (cluster inventory) ${callMs.toFixed(0)} ms`,
      );
    } finally {
      await session.removeSnapshot(vm, snap);
    }
  } finally {
    await session.close();
  }
}

try {
  await measure("local");
  await measure("ssh");
} finally {
  await sim.stop();
  await rm(dir, { recursive: true, force: true });
}
