/**
 * vSphere adapter benchmark against vcsim (tools/vcsim/build.sh): inventory of many VMs (wall time,
 * SOAP round trips, answer bytes) and /folder Range read throughput of one snapshot disk.
 * Usage: npm run build && node dist/bench/vsphere-inventory.js [vmsPerPool=500] [diskMiB=64]
 * The vCenter model has two resource pools (standalone host + cluster), so VMs = 2 x vmsPerPool.
 * Each figure is the best of three runs.
 */
import { performance } from "node:perf_hooks";
import { randomFillSync } from "node:crypto";
import { connectVsphere } from "../adapters/vsphere/index.js";
import { folderUrl } from "../adapters/vsphere/disk-reader.js";
import { noopLogger, type Logger } from "../src/domain/ports.js";
import { startVcsim } from "../test/adapters/vsphere/helpers/vcsim.js";

const vmsPerPool = Number(process.argv[2] ?? 500);
const diskMiB = Number(process.argv[3] ?? 64);
const MiB = 1024 * 1024;

let calls = 0;
const counting: Logger = {
  ...noopLogger,
  debug: (_obj, msg) => {
    if (msg === "vSphere call") calls++;
  },
  child: () => counting,
};

const started = performance.now();
const sim = await startVcsim(["-vm", String(vmsPerPool)]);
console.log(
  `vcsim with ${2 * vmsPerPool} VMs started in ${((performance.now() - started) / 1000).toFixed(1)} s`,
);
try {
  const session = await connectVsphere(
    {
      url: sim.url,
      username: sim.username,
      password: sim.password,
      tls: { insecure: true },
      readConcurrencyPerHost: 4,
    },
    { logger: counting },
  );
  let best = Infinity;
  let vmCount = 0;
  for (let run = 0; run < 3; run++) {
    calls = 0;
    const t0 = performance.now();
    const vms = await session.inventory();
    best = Math.min(best, performance.now() - t0);
    vmCount = vms.length;
  }
  console.log(
    `inventory: ${vmCount} VMs in ${best.toFixed(0)} ms (best of 3), ${calls} SOAP round trips per inventory`,
  );

  const vm = (await session.inventory())[0];
  const disk = vm?.disks[0];
  if (vm === undefined || disk === undefined) throw new Error("no VM disk to read");
  const capacity = diskMiB * MiB;
  const dir = disk.path.replace(/^\[[^\]]+\] /, "").replace(/\/[^/]*$/, "");
  const put = async (file: string, body: string | Buffer) => {
    const res = await session.client.transport.request({
      method: "PUT",
      path: folderUrl({ datastore: disk.datastore, path: `${dir}/${file}` }, "DC0"),
      body,
    });
    if (res.status >= 300) throw new Error(`PUT ${file}: HTTP ${res.status}`);
  };
  await put(
    "disk1.vmdk",
    `# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="vmfs"\nRW ${capacity / 512} VMFS "disk1-flat.vmdk"\n`,
  );
  await put("disk1-flat.vmdk", randomFillSync(Buffer.alloc(capacity)));
  // vcsim reports the configured 1 MiB capacity; the descriptor above is what is read.
  const snap = await session.createSnapshot(
    { ...vm, disks: [{ ...disk, capacity }] },
    { jobId: "bench", expected: "crash", policy: "crash-only", quiesceAttempts: 1 },
  );
  const source = await session.openDisk(
    vm,
    { ...snap, disks: snap.disks.map((d) => ({ ...d, capacity })) },
    disk.key,
  );
  let bestRead = Infinity;
  const buffer = new Uint8Array(4 * MiB);
  for (let run = 0; run < 3; run++) {
    const t0 = performance.now();
    const pending: Promise<number>[] = [];
    for (let off = 0; off < capacity; off += buffer.length)
      pending.push(source.read(new Uint8Array(buffer.length), off));
    await Promise.all(pending);
    bestRead = Math.min(bestRead, performance.now() - t0);
  }
  console.log(
    `/folder read: ${diskMiB} MiB in ${bestRead.toFixed(0)} ms = ${((diskMiB / bestRead) * 1000).toFixed(0)} MiB/s (4 MiB reads, 4 concurrent ranges per host)`,
  );
  await source.close();
  await session.removeSnapshot(vm, snap);
  await session.close();
} finally {
  await sim.stop();
}
