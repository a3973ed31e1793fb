/**
 * Scenario files for the Hyper-V simulator (YAML or JSON), validated with zod: a standalone host or a
 * failover cluster, its VMs (state, generation, configuration version, integration services, disks,
 * checkpoints, halt events), cluster shared volumes, guest-cluster groups, and fault rules.
 */
import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

const guid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, "a GUID");
const size = z
  .union([z.number().int().positive(), z.string().regex(/^\d+\s*(KiB|MiB|GiB)$/)])
  .transform((v) => {
    if (typeof v === "number") return v;
    const m = /^(\d+)\s*(KiB|MiB|GiB)$/.exec(v);
    const unit = { KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30 }[m?.[2] ?? "KiB"] ?? 1;
    return Number(m?.[1] ?? 0) * unit;
  });

export const IC_STATUS = {
  OK: 2,
  Degraded: 3,
  Error: 6,
  NonRecoverableError: 7,
  NoContact: 12,
  LostCommunication: 13,
} as const;
export type IcStatusName = keyof typeof IC_STATUS;

const icStatus = z.enum(Object.keys(IC_STATUS) as [IcStatusName, ...IcStatusName[]]);
const ic = z.object({ enabled: z.boolean().default(true), status: icStatus.optional() }).strict();

const writeSpec = z
  .object({
    disk: z.number().int().nonnegative().default(0),
    offset: size.or(z.literal(0)),
    length: size,
    /** Byte pattern seed: the data is a deterministic function of (seed, offset). */
    seed: z.number().int().nonnegative().default(1),
  })
  .strict();

const disk = z
  .object({
    path: z.string().regex(/^[A-Za-z]:\\/, "an absolute Windows path"),
    size: size.optional(),
    controller: z.enum(["SCSI", "IDE"]).default("SCSI"),
    controllerNumber: z.number().int().nonnegative().default(0),
    location: z.number().int().nonnegative().optional(),
    shared: z.boolean().default(false),
    blockSize: size.optional(),
  })
  .strict();

const event = z
  .object({
    id: z.number().int(),
    time: z.string().datetime(),
    /** Node whose Hyper-V-Worker-Admin log holds the event; default: the VM's node. */
    node: z.string().optional(),
  })
  .strict();

const vm = z
  .object({
    name: z.string().min(1),
    id: guid,
    node: z.string(),
    state: z.enum(["Running", "Off", "Saved", "Paused", "OffCritical", "RunningCritical"]),
    generation: z.union([z.literal(1), z.literal(2)]).default(2),
    version: z.string().default("9.0"),
    clustered: z.boolean().default(false),
    guestOs: z.enum(["windows", "linux", "other"]).default("windows"),
    integrationServices: z
      .object({ installed: z.boolean().default(true), vss: ic.optional(), heartbeat: ic.optional() })
      .strict()
      .default({ installed: true }),
    disks: z.array(disk).default([]),
    checkpoints: z
      .array(
        z.object({ name: z.string(), type: z.enum(["Standard", "Production"]).default("Standard") }).strict(),
      )
      .default([]),
    events: z.array(event).default([]),
    writes: z.array(writeSpec).default([]),
  })
  .strict();

/** One VM as a scenario lists it; also what the control API's addVm / `POST /vms` take. */
export const scenarioVmSchema = vm;

const selector = { vm: z.string().optional(), times: z.number().int().positive().optional() };

export const faultRule = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("vss-failure"), ...selector }).strict(),
  z
    .object({
      kind: z.literal("rct-invalid"),
      disk: z.string(),
      code: z.enum(["0xC03A0029", "0xC03A0030", "0xC03A0022", "0xC03A0024"]).default("0xC03A0029"),
      ...selector,
    })
    .strict(),
  z.object({ kind: z.literal("merge-failure"), ...selector }).strict(),
  z.object({ kind: z.literal("migrate-after-snapshot"), to: z.string(), ...selector }).strict(),
  z.object({ kind: z.literal("node-down"), node: z.string() }).strict(),
  z
    .object({
      kind: z.literal("slow-job"),
      method: z.string(),
      polls: z.number().int().positive(),
      ...selector,
    })
    .strict(),
  z.object({ kind: z.literal("stderr-noise") }).strict(),
  /**
   * Reads over SFTP of a disk's files (the disk whose chain holds `disk`, or any disk of `vm`) fail
   * with SSH_FX_FAILURE once `afterBytes` bytes were served on the handle: a volume I/O error, or a
   * CSV going into redirected access mid-backup.
   */
  z
    .object({
      kind: z.literal("read-failure"),
      disk: z.string().optional(),
      afterBytes: z.number().int().nonnegative().default(0),
      ...selector,
    })
    .strict(),
  z.object({ kind: z.literal("hang"), command: z.string(), ...selector }).strict(),
]);
export type FaultRule = z.infer<typeof faultRule>;

export const scenarioSchema = z
  .object({
    cluster: z.object({ name: z.string() }).strict().optional(),
    nodes: z
      .array(z.object({ name: z.string(), state: z.enum(["Up", "Down", "Paused"]).default("Up") }).strict())
      .min(1),
    volumes: z
      .array(z.object({ name: z.string(), path: z.string(), owner: z.string() }).strict())
      .default([]),
    /** Guest clusters sharing disks: a VM collection for collection checkpoints. */
    guestClusters: z
      .array(z.object({ name: z.string(), id: guid, members: z.array(z.string()).min(1) }).strict())
      .default([]),
    vms: z.array(vm).default([]),
    faults: z.array(faultRule).default([]),
    /** Byte window GetVirtualDiskChanges processes per call (forces paging). */
    rctPageBytes: size.default(64 * 2 ** 20),
  })
  .strict()
  .superRefine((s, ctx) => {
    const nodes = new Set(s.nodes.map((n) => n.name.toLowerCase()));
    for (const [i, v] of s.vms.entries()) {
      if (!nodes.has(v.node.toLowerCase()))
        ctx.addIssue({ code: "custom", path: ["vms", i, "node"], message: `unknown node "${v.node}"` });
    }
    const ids = new Set<string>();
    for (const [i, v] of s.vms.entries()) {
      if (ids.has(v.id.toLowerCase()))
        ctx.addIssue({ code: "custom", path: ["vms", i, "id"], message: `duplicate VM id ${v.id}` });
      ids.add(v.id.toLowerCase());
    }
  });

export type Scenario = z.infer<typeof scenarioSchema>;
export type ScenarioVm = Scenario["vms"][number];
export type ScenarioVmInput = z.input<typeof scenarioVmSchema>;
export type ScenarioInput = z.input<typeof scenarioSchema>;

export class ScenarioError extends Error {
  override readonly name = "ScenarioError";
}

export function parseScenario(input: unknown, source = "scenario"): Scenario {
  const r = scenarioSchema.safeParse(input);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new ScenarioError(`Invalid Hyper-V scenario ${source}: ${issues}`);
  }
  return r.data;
}

export async function loadScenario(path: string): Promise<Scenario> {
  const text = await readFile(path, "utf8");
  return parseScenario(path.endsWith(".json") ? JSON.parse(text) : parseYaml(text), path);
}
