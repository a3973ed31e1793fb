/**
 * Throughput of the vSphere simulator's data paths and inventory: `/folder` Range reads over HTTPS
 * (1 MiB ranges, 1 and 4 in flight, keep-alive), `dd` over the ESXi SSH endpoint, and a paged
 * inventory of many VMs through a container view (the property paths the vSphere adapter asks for).
 * Usage: npm run build && node dist/bench/vsphere-sim-read.js [diskMiB=256] [vms=1000]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import ssh2 from "ssh2";
import { startVsphereSimulator, type ScenarioInput } from "../simulators/vsphere/index.js";
import { kids, ref, refXml, textAt, VimTestClient } from "../test/support/vim-soap-client.js";

const MiB = 1024 * 1024;
const diskMiB = Number(process.argv[2] ?? 256);
const vmCount = Number(process.argv[3] ?? 1000);

const guest = { id: "ubuntu64Guest", fullName: "Ubuntu Linux (64-bit)" };
const scenario: ScenarioInput = {
  credentials: { user: "bench", password: "bench" },
  ssh: { user: "root", password: "bench" },
  datacenters: [
    {
      name: "DC",
      datastores: [{ name: "ds" }],
      clusters: [{ name: "C", hosts: [{ name: "esx-1" }, { name: "esx-2" }] }],
      vms: [
        {
          name: "big",
          host: "esx-1",
          guest,
          tools: "running",
          power: "off",
          lastShutdown: "guest-shutdown",
          disks: [
            {
              capacity: diskMiB * MiB,
              datastore: "ds",
              data: [{ offset: 0, length: diskMiB * MiB, seed: 1 }],
            },
          ],
        },
        ...Array.from({ length: vmCount }, (_, i) => ({
          name: `vm-${String(i).padStart(4, "0")}`,
          host: i % 2 ? "esx-1" : "esx-2",
          guest,
          tools: "running" as const,
          power: "on" as const,
          changeTracking: true,
          disks: [{ capacity: MiB, datastore: "ds" }],
        })),
      ],
    },
  ],
};

const PATHS = [
  "name",
  "config.instanceUuid",
  "config.guestId",
  "config.template",
  "config.changeTrackingEnabled",
  "config.hardware.device",
  "runtime.powerState",
  "runtime.cleanPowerOff",
  "runtime.host",
  "runtime.connectionState",
  "runtime.consolidationNeeded",
  "guest.toolsRunningStatus",
  "guest.toolsVersionStatus2",
  "guest.toolsStatus",
  "guest.guestFamily",
  "snapshot",
];

function get(url: string, agent: Agent, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers, rejectUnauthorized: false }, (res) => {
      let n = 0;
      res.on("data", (c: Buffer) => (n += c.length));
      res.on("end", () => resolve(n));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

async function folderRead(url: string, cookie: string, inFlight: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: inFlight });
  const t0 = performance.now();
  let next = 0;
  let bytes = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < diskMiB) {
        const i = next++;
        const n = await get(url, agent, { Cookie: cookie, Range: `bytes=${i * MiB}-${(i + 1) * MiB - 1}` });
        bytes += n;
      }
    }),
  );
  agent.destroy();
  if (bytes !== diskMiB * MiB) throw new Error(`read ${bytes} bytes, expected ${diskMiB * MiB}`);
  return diskMiB / ((performance.now() - t0) / 1000);
}

function sshRead(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.on("ready", () => {
      const t0 = performance.now();
      c.exec(`dd if=/vmfs/volumes/ds/big/big-flat.vmdk bs=1M count=${diskMiB} 2>/dev/null`, (err, ch) => {
        if (err) return reject(err);
        let n = 0;
        ch.on("data", (d: Buffer) => (n += d.length));
        ch.on("close", () => {
          c.end();
          if (n !== diskMiB * MiB) reject(new Error(`dd gave ${n} bytes`));
          else resolve(diskMiB / ((performance.now() - t0) / 1000));
        });
      });
    });
    c.on("error", reject);
    c.connect({ host, port, username: "root", password: "bench" });
  });
}

async function inventory(client: VimTestClient): Promise<{ ms: number; vms: number; pages: number }> {
  const t0 = performance.now();
  const [view] = await client.ok(
    "CreateContainerView",
    { type: "ViewManager", value: "ViewManager" },
    `${refXml("container", { type: "Folder", value: "group-d1" })}<type>VirtualMachine</type><recursive>true</recursive>`,
  );
  const spec = `<specSet><propSet><type>VirtualMachine</type>${PATHS.map((p) => `<pathSet>${p}</pathSet>`).join("")}</propSet><objectSet>${refXml("obj", ref(view))}<skip>true</skip><selectSet xsi:type="TraversalSpec"><type>ContainerView</type><path>view</path><skip>false</skip></selectSet></objectSet></specSet>`;
  let [page] = await client.ok(
    "RetrievePropertiesEx",
    { type: "PropertyCollector", value: "propertyCollector" },
    `${spec}<options/>`,
  );
  let vms = 0;
  let pages = 1;
  for (;;) {
    vms += kids(page, "objects").length;
    const token = textAt(page, "token");
    if (!token) break;
    [page] = await client.ok(
      "ContinueRetrievePropertiesEx",
      { type: "PropertyCollector", value: "propertyCollector" },
      `<token>${token}</token>`,
    );
    pages++;
  }
  return { ms: performance.now() - t0, vms, pages };
}

const dir = mkdtempSync(join(tmpdir(), "vsim-bench-"));
const tStart = performance.now();
const sim = await startVsphereSimulator({ scenario, dir });
console.log(
  `start-up with ${vmCount + 1} VMs and a ${diskMiB} MiB disk: ${((performance.now() - tStart) / 1000).toFixed(1)} s`,
);
try {
  const client = new VimTestClient(sim.sdkUrl);
  await client.ok(
    "Login",
    { type: "SessionManager", value: "SessionManager" },
    "<userName>bench</userName><password>bench</password>",
  );
  const url = `${new URL(sim.sdkUrl).origin}/folder/big/big-flat.vmdk?dcPath=DC&dsName=ds`;
  for (const inFlight of [1, 4]) {
    let top = 0;
    for (let pass = 0; pass < 3; pass++) top = Math.max(top, await folderRead(url, client.cookie!, inFlight));
    console.log(`/folder 1 MiB ranges, ${inFlight} in flight: ${top.toFixed(0)} MiB/s (best of 3)`);
  }
  let ssh = 0;
  for (let pass = 0; pass < 3; pass++) ssh = Math.max(ssh, await sshRead(sim.ssh!.host, sim.ssh!.port));
  console.log(`ssh dd bs=1M: ${ssh.toFixed(0)} MiB/s (best of 3)`);
  const inv = await inventory(client);
  console.log(
    `inventory of ${inv.vms} VMs (${PATHS.length} paths, ${inv.pages} pages): ${inv.ms.toFixed(0)} ms`,
  );
} finally {
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
}
