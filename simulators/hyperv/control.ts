/**
 * The simulator's control API: guest activity (writes, shutdowns with their halt events), cluster
 * events (live migration, node down), fault rules and the state (with checkpoints open per CSV and
 * node, now and the most at once), as methods and over HTTP on loopback.
 */
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { faultRule, IC_STATUS, scenarioVmSchema, type FaultRule, type ScenarioVmInput } from "./scenario.js";
import { HEARTBEAT_IC, VSS_IC, type HypervModel, type SimVm, type VmStateName } from "./model.js";
import { patternBytes } from "./disks.js";

export class SimControl {
  constructor(readonly model: HypervModel) {}

  vm(name: string): SimVm {
    const vm = this.model.vmByName(name);
    if (!vm) throw new Error(`no VM named "${name}"`);
    return vm;
  }

  /** A guest write to disk `disk` (index) of VM `vmName`: lands in the active file, tracked by RCT. */
  async write(vmName: string, disk: number, offset: number, data: Uint8Array): Promise<void> {
    const drive = this.vm(vmName).drives[disk];
    if (!drive) throw new Error(`VM "${vmName}" has no disk ${disk}`);
    await this.model.guestWrite(drive.disk, offset, data);
  }

  async writePattern(
    vmName: string,
    disk: number,
    offset: number,
    length: number,
    seed: number,
  ): Promise<void> {
    await this.write(vmName, disk, offset, patternBytes(seed, offset, length));
  }

  /** New-VM while the simulator runs: `spec` is a scenario VM (validated here). */
  async addVm(spec: ScenarioVmInput): Promise<void> {
    const r = scenarioVmSchema.safeParse(spec);
    if (!r.success)
      throw new Error(
        `Invalid VM: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
      );
    await this.model.addVm(r.data);
  }

  /** Remove-VM: refused while the VM runs; its disk files stay. */
  removeVm(vmName: string): void {
    this.model.removeVm(this.vm(vmName));
  }

  /** Changes power state; `haltEvent` is the Worker-Admin event id logged when the VM went down. */
  setPower(vmName: string, state: VmStateName, haltEvent?: number): void {
    const vm = this.vm(vmName);
    vm.state = state;
    for (const ic of vm.ics) {
      if (state !== "Running") ic.status = null;
      else if (ic.status === null) ic.status = IC_STATUS.OK;
    }
    if (haltEvent !== undefined) this.model.addHaltEvent(vm, haltEvent);
  }

  /** Guest-side status of the VSS or Heartbeat integration service. */
  setIntegrationService(
    vmName: string,
    which: "vss" | "heartbeat",
    opts: { enabled?: boolean; status?: keyof typeof IC_STATUS | null },
  ): void {
    const ic = this.vm(vmName).ics.find((i) => i.id === (which === "vss" ? VSS_IC : HEARTBEAT_IC));
    if (!ic) return;
    if (opts.enabled !== undefined) ic.enabled = opts.enabled;
    if (opts.status !== undefined) ic.status = opts.status === null ? null : IC_STATUS[opts.status];
  }

  migrate(vmName: string, to: string): void {
    const node = this.model.node(to);
    if (!node) throw new Error(`no node named "${to}"`);
    this.vm(vmName).node = node.name;
  }

  setNode(name: string, state: "Up" | "Down" | "Paused"): void {
    this.model.setNodeState(name, state);
  }

  addFault(rule: FaultRule): void {
    if (rule.kind === "node-down") this.model.setNodeState(rule.node, "Down");
    else this.model.faults.add(rule);
  }

  clearFaults(): void {
    this.model.faults.clear();
  }

  /** The virtual disk as seen through `windowsPath` (a base, frozen or active file). */
  readDisk(windowsPath: string, offset: number, length: number): Promise<Uint8Array> {
    return this.model.images.read(this.model.file(windowsPath), offset, length);
  }

  /** Starts the most-checkpoints-at-once counts again (between rehearsal jobs on one simulator). */
  resetCheckpointCounts(): void {
    this.model.resetMaxOpenCheckpoints();
  }

  state(): object {
    const m = this.model;
    const open = m.openCheckpoints();
    return {
      nodes: m.nodes,
      vms: m.vms.map((v) => ({
        name: v.name,
        id: v.id,
        node: v.node,
        state: v.state,
        disks: v.drives.map((d) => d.disk.chain),
      })),
      snapshots: m.snapshots.map((s) => ({
        instanceId: s.instanceId,
        vmId: s.vmId,
        name: s.name,
        type: s.type,
      })),
      referencePoints: m.referencePoints.map((r) => ({
        instanceId: r.instanceId,
        vmId: r.vmId,
        name: r.name,
      })),
      faults: m.faults.list(),
      /** Checkpoints open now, per CSV path (or local volume root) and per node. */
      openCheckpoints: {
        perCsv: Object.fromEntries(open.perCsv),
        perHost: Object.fromEntries(open.perHost),
      },
      /** The most checkpoints open at once since start (or the last reset). */
      maxOpenCheckpoints: {
        perCsv: Object.fromEntries(m.maxOpenCheckpoints.perCsv),
        perHost: Object.fromEntries(m.maxOpenCheckpoints.perHost),
      },
    };
  }
}

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

/**
 * HTTP face of SimControl (loopback only, `Authorization: Bearer <token>`): JSON in, JSON out, 400
 * with a message on bad input.
 */
export async function serveControl(
  control: SimControl,
  token: string,
): Promise<{ url: string; server: Server }> {
  const expected = Buffer.from(`Bearer ${token}`);
  const server = createServer((req, res) => {
    const auth = Buffer.from(req.headers.authorization ?? "");
    if (auth.length !== expected.length || !timingSafeEqual(auth, expected)) {
      res
        .writeHead(401, { "content-type": "application/json" })
        .end(JSON.stringify({ error: "missing or wrong bearer token" }));
      return;
    }
    const url = new URL(req.url ?? "/", "http://localhost");
    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    const reply = (status: number, value: unknown): void => {
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
    };
    (async () => {
      const [a, name, action] = parts;
      if (req.method === "GET" && a === "state") return reply(200, control.state());
      const b = await body(req);
      if (req.method === "POST" && a === "vms" && name === undefined) {
        await control.addVm(b as ScenarioVmInput);
      } else if (req.method === "DELETE" && a === "vms" && name && action === undefined) {
        control.removeVm(name);
      } else if (req.method === "POST" && a === "vms" && name && action === "writes") {
        await control.writePattern(
          name,
          Number(b.disk ?? 0),
          Number(b.offset),
          Number(b.length),
          Number(b.seed ?? 1),
        );
      } else if (req.method === "POST" && a === "vms" && name && action === "power") {
        control.setPower(
          name,
          String(b.state) as VmStateName,
          b.haltEvent === undefined ? undefined : Number(b.haltEvent),
        );
      } else if (req.method === "POST" && a === "vms" && name && action === "migrate") {
        control.migrate(name, String(b.to));
      } else if (req.method === "POST" && a === "nodes" && name) {
        control.setNode(name, String(b.state) as "Up" | "Down");
      } else if (req.method === "POST" && a === "faults") {
        control.addFault(faultRule.parse(b));
      } else if (req.method === "DELETE" && a === "faults") {
        control.clearFaults();
      } else if (req.method === "POST" && a === "checkpoint-counts" && name === "reset") {
        control.resetCheckpointCounts();
      } else return reply(404, { error: `no route ${req.method ?? ""} ${url.pathname}` });
      reply(200, { ok: true });
    })().catch((err: unknown) => reply(400, { error: err instanceof Error ? err.message : String(err) }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return { url: `http://127.0.0.1:${port}`, server };
}
