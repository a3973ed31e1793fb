/**
 * The control API (`/sim/...`, JSON, bearer token): what a hypervisor does on its own, driven by a
 * test or an admin rehearsing a failure: guest writes, guest shutdown and host crashes, tools
 * starting/stopping, CBT resets, fault rules, session expiry, releasing held tasks, and reading a
 * disk as it was at a snapshot (to compare a restore against). See docs/vsphere-simulator.md.
 */
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { faultRuleSchema } from "./fault-rules.js";
import { patternBytes, type VsphereModel } from "./model.js";
import { scenarioVmSchema } from "./scenario.js";
import { readBody, type SoapEndpoint } from "./soap-server.js";
import { VimFault } from "./vim-value.js";
import * as ops from "./vm-ops.js";
import type { VirtualMachine } from "./vm.js";

const writeSchema = z.object({
  disk: z.number().int(),
  offset: z.number().int().nonnegative(),
  length: z.number().int().positive().optional(),
  seed: z.number().int().nonnegative().optional(),
  /** base64 content; its length must be a multiple of 512. */
  data: z.string().optional(),
});

const powerSchema = z.object({
  action: z.enum(["guest-shutdown", "crash", "power-on"]),
  /** crash only: the power loss also resets CBT (KB 1020128 says it may). */
  resetCbt: z.boolean().default(false),
});

const toolsSchema = z.object({ state: z.enum(["running", "not-running", "not-installed"]) });
const cbtResetSchema = z.object({ disk: z.number().int().optional() });
const migrateSchema = z.object({ host: z.string().min(1) });

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function summary(vm: VirtualMachine) {
  return {
    name: vm.name,
    moref: vm.ref.value,
    host: vm.placement.host.name,
    power: vm.power,
    tools: vm.tools,
    cleanPowerOff: vm.cleanPowerOff ?? null,
    consolidationNeeded: vm.consolidationNeeded,
    snapshots: vm.allSnapshots().map((s) => ({ name: s.name, moref: s.ref.value, quiesced: s.quiesced })),
    disks: vm.disks.map((d) => ({
      key: d.key,
      capacity: d.capacity,
      chain: d.chain.map((l) => d.datastorePath(l)),
      changeId: d.tracker?.changeId ?? null,
    })),
  };
}

export function applyRule(
  model: VsphereModel,
  soap: SoapEndpoint,
  rule: z.output<typeof faultRuleSchema>,
): void {
  if (rule.kind === "session-expiry") {
    if (rule.afterCalls === 0) soap.dropAllSessions();
    else model.sessionExpiryCountdown = rule.afterCalls;
    return;
  }
  model.faults.add(rule);
}

export async function handleControl(
  model: VsphereModel,
  soap: SoapEndpoint,
  token: string,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const json = (status: number, body: unknown) => {
    res.writeHead(status, { "Content-Type": "application/json" });
    res.end(JSON.stringify(body));
  };
  try {
    const given = Buffer.from((req.headers.authorization ?? "").replace(/^Bearer /, ""));
    const want = Buffer.from(token);
    if (given.length !== want.length || !timingSafeEqual(given, want))
      throw new HttpError(401, "missing or wrong bearer token");
    const parts = url.pathname.split("/").slice(2).map(decodeURIComponent);
    const body = async <T>(schema: z.ZodType<T>): Promise<T> => {
      const text = await readBody(req, 64 * 1024 * 1024);
      const r = schema.safeParse(text ? JSON.parse(text) : {});
      if (!r.success)
        throw new HttpError(400, r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
      return r.data;
    };
    const vmNamed = (name: string | undefined) => {
      const vm = name === undefined ? undefined : model.vmByName(name);
      if (!vm) throw new HttpError(404, `no VM named ${JSON.stringify(name)}`);
      return vm;
    };
    const route = `${req.method} /${parts.map((p, i) => (i === 1 && parts[0] === "vms" ? ":vm" : i === 3 && parts[2] === "disks" ? ":disk" : p)).join("/")}`;
    switch (route) {
      case "GET /state":
        return json(200, {
          vms: model.vms.map(summary),
          faults: model.faults.list(),
          openSnapshots: Object.fromEntries(model.openSnapshots()),
          maxOpenSnapshots: Object.fromEntries(model.maxOpenSnapshots),
        });
      case "POST /vms": {
        // A VM deployed while the simulator runs (between two backups, say).
        const spec = await body(scenarioVmSchema);
        let vm: VirtualMachine;
        try {
          vm = model.addVm(spec);
        } catch (err) {
          throw new HttpError(409, err instanceof Error ? err.message : String(err));
        }
        return json(201, summary(vm));
      }
      case "DELETE /vms/:vm": {
        // UnregisterVM: out of the inventory, files kept; refused while powered on.
        const vm = vmNamed(parts[1]);
        model.unregisterVm(vm);
        return json(200, { name: vm.name, removed: true });
      }
      case "POST /vms/:vm/write": {
        const vm = vmNamed(parts[1]);
        const w = await body(writeSchema);
        const disk = vm.disks.find((d) => d.key === w.disk);
        if (!disk) throw new HttpError(404, `VM ${vm.name} has no disk ${w.disk}`);
        if (vm.power !== "poweredOn")
          throw new HttpError(409, `VM ${vm.name} is ${vm.power}: only a running guest writes`);
        const data =
          w.data !== undefined
            ? Buffer.from(w.data, "base64")
            : patternBytes(w.seed ?? 0, w.offset, w.length ?? 0);
        if (data.length === 0 || data.length % 512 !== 0 || w.offset % 512 !== 0) {
          throw new HttpError(
            400,
            `writes are whole 512-byte sectors (offset ${w.offset}, length ${data.length})`,
          );
        }
        if (w.offset + data.length > disk.capacity)
          throw new HttpError(400, `write past the disk end (${disk.capacity})`);
        disk.write(w.offset, data);
        model.changed();
        return json(200, { written: data.length });
      }
      case "GET /vms/:vm/disks/:disk/content": {
        const vm = vmNamed(parts[1]);
        const disk = vm.disks.find((d) => String(d.key) === parts[3]);
        if (!disk) throw new HttpError(404, `VM ${vm.name} has no disk ${parts[3]}`);
        const snapName = url.searchParams.get("snapshot");
        const snap =
          snapName === null
            ? undefined
            : vm.allSnapshots().find((s) => s.name === snapName || s.ref.value === snapName);
        if (snapName !== null && !snap) throw new HttpError(404, `VM ${vm.name} has no snapshot ${snapName}`);
        const offset = Number(url.searchParams.get("offset") ?? 0);
        const length = Number(url.searchParams.get("length") ?? disk.capacity - offset);
        if (offset % 512 || length % 512 || offset + length > disk.capacity)
          throw new HttpError(400, "offset/length must be sector-aligned and inside the disk");
        const bytes = disk.read(offset, length, vm.headIndex(disk, snap));
        res.writeHead(200, {
          "Content-Type": "application/octet-stream",
          "Content-Length": String(bytes.length),
        });
        res.end(bytes);
        return;
      }
      case "POST /vms/:vm/power": {
        const vm = vmNamed(parts[1]);
        const p = await body(powerSchema);
        if (p.action === "crash") ops.crash(model, vm, p.resetCbt);
        else if (p.action === "guest-shutdown") {
          if (vm.power !== "poweredOn") throw new HttpError(409, `VM ${vm.name} is ${vm.power}`);
          // The guest shuts itself down (Start > Shut down): an orderly power-off without a vSphere request.
          vm.power = "poweredOff";
          vm.cleanPowerOff = true;
          model.events.postVm("VmPoweredOffEvent", vm, "", model.clock.now());
        } else ops.power(model, vm, "powerOn", model.scenario.credentials.user);
        model.changed();
        return json(200, summary(vm));
      }
      case "POST /vms/:vm/tools": {
        const vm = vmNamed(parts[1]);
        vm.tools = (await body(toolsSchema)).state;
        model.changed();
        return json(200, summary(vm));
      }
      case "POST /vms/:vm/migrate": {
        const vm = vmNamed(parts[1]);
        ops.migrate(model, vm, (await body(migrateSchema)).host, model.scenario.credentials.user);
        return json(200, summary(vm));
      }
      case "POST /vms/:vm/cbt-reset": {
        const vm = vmNamed(parts[1]);
        const r = await body(cbtResetSchema);
        for (const d of vm.disks) if (r.disk === undefined || d.key === r.disk) d.tracker?.reset();
        model.changed();
        return json(200, summary(vm));
      }
      case "GET /faults":
        return json(200, model.faults.list());
      case "POST /faults":
        applyRule(model, soap, await body(faultRuleSchema));
        return json(200, model.faults.list());
      case "DELETE /faults":
        model.faults.clear();
        model.sessionExpiryCountdown = undefined;
        return json(200, []);
      case "POST /sessions/expire":
        soap.dropAllSessions();
        return json(200, { sessions: 0 });
      case "POST /tasks/release":
        return json(200, { released: model.tasks.releaseAll() });
      default:
        throw new HttpError(404, `no control route ${req.method} ${url.pathname}`);
    }
  } catch (err) {
    if (err instanceof HttpError) return json(err.status, { error: err.message });
    if (err instanceof VimFault) return json(409, { error: err.message, fault: err.type });
    if (err instanceof SyntaxError) return json(400, { error: `body is not JSON: ${err.message}` });
    return json(500, { error: err instanceof Error ? err.message : String(err) });
  }
}
