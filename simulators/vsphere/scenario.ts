/**
 * Scenario files: the inventory a simulator starts with (YAML or JSON), validated once with zod.
 * Sizes accept bytes or units (`64MiB`, `1GiB`). See docs/vsphere-simulator.md for the format.
 */
import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { simError } from "./errors.js";
import { faultRuleSchema } from "./fault-rules.js";

const UNITS: Record<string, number> = {
  "": 1,
  B: 1,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4,
};

const size = z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
  if (typeof v === "number") return v;
  const m = /^\s*(\d+)\s*(B|KiB|MiB|GiB|TiB)?\s*$/.exec(v);
  const n = m ? Number(m[1]) * (UNITS[m[2] ?? ""] ?? NaN) : NaN;
  if (!Number.isSafeInteger(n)) {
    ctx.addIssue({
      code: "custom",
      message: `not a size: ${JSON.stringify(v)} (use bytes or 64MiB, 1GiB...)`,
    });
    return z.NEVER;
  }
  return n;
});

const name = z.string().min(1).max(80);

const diskData = z.object({
  offset: size,
  length: size,
  /** Pseudo-random content from this seed; `zero` writes zeros (still allocated). */
  seed: z.number().int().nonnegative().optional(),
  zero: z.boolean().optional(),
});

const disk = z.object({
  capacity: size.refine((n) => n > 0 && n % 512 === 0, "disk capacity must be a positive multiple of 512"),
  datastore: name,
  thin: z.boolean().default(true),
  data: z.array(diskData).default([]),
});

const snapshot = z.object({ name: z.string().min(1), description: z.string().default("") });

export const toolsStates = ["running", "not-running", "not-installed"] as const;

const vm = z.object({
  name,
  host: name,
  instanceUuid: z.string().uuid().optional(),
  guest: z.object({ id: z.string().min(1), fullName: z.string().min(1) }),
  tools: z.enum(toolsStates),
  /** guest.toolsVersionStatus2 when tools are installed (default guestToolsCurrent). */
  toolsVersionStatus: z
    .enum([
      "guestToolsCurrent",
      "guestToolsUnmanaged",
      "guestToolsTooOld",
      "guestToolsSupportedOld",
      "guestToolsSupportedNew",
      "guestToolsTooNew",
      "guestToolsBlacklisted",
    ])
    .optional(),
  power: z.enum(["on", "off", "suspended"]),
  /** How a powered-off VM went down: evidence in runtime.cleanPowerOff and the event history. */
  lastShutdown: z.enum(["guest-shutdown", "power-off", "crash", "unknown"]).optional(),
  changeTracking: z.boolean().default(false),
  disks: z.array(disk).min(1).max(60),
  snapshots: z.array(snapshot).default([]),
});

/** One VM as a scenario lists it; also the body of the control API's `POST /vms`. */
export const scenarioVmSchema = vm;

const host = z.object({ name });
const datastore = z.object({ name, capacity: size.default(1024 ** 4) });

const datacenter = z.object({
  name,
  datastores: z.array(datastore).min(1),
  clusters: z.array(z.object({ name, hosts: z.array(host).min(1) })).default([]),
  hosts: z.array(host).default([]),
  vms: z.array(vm).default([]),
});

export const scenarioSchema = z
  .object({
    name: z.string().default("scenario"),
    product: z.enum(["vcenter", "esxi"]).default("vcenter"),
    credentials: z.object({ user: z.string().min(1), password: z.string().min(1) }),
    ssh: z
      .object({
        user: z.string().min(1).default("root"),
        password: z.string().min(1).optional(),
        authorizedKeys: z.array(z.string()).default([]),
      })
      .optional(),
    options: z
      .object({
        /** Objects per RetrievePropertiesEx page when the client sets no maxObjects. */
        maxObjectsPerPage: z.number().int().positive().default(100),
        /** Extents per QueryChangedDiskAreas answer; the caller continues at startOffset + length. */
        cbtMaxExtentsPerCall: z.number().int().positive().default(1024),
        /** CBT tracking granularity in bytes. */
        cbtBlockSize: z.number().int().positive().default(65536),
      })
      .default({ maxObjectsPerPage: 100, cbtMaxExtentsPerCall: 1024, cbtBlockSize: 65536 }),
    datacenters: z.array(datacenter).min(1),
    faults: z.array(faultRuleSchema).default([]),
  })
  .superRefine((s, ctx) => {
    const seen = new Set<string>();
    for (const dc of s.datacenters) {
      const hosts = new Set([...dc.hosts, ...dc.clusters.flatMap((c) => c.hosts)].map((h) => h.name));
      const stores = new Set(dc.datastores.map((d) => d.name));
      for (const v of dc.vms) {
        if (seen.has(v.name))
          ctx.addIssue({ code: "custom", message: `duplicate VM name ${JSON.stringify(v.name)}` });
        seen.add(v.name);
        if (!hosts.has(v.host)) {
          ctx.addIssue({
            code: "custom",
            message: `VM ${JSON.stringify(v.name)}: unknown host ${JSON.stringify(v.host)}`,
          });
        }
        for (const d of v.disks) {
          if (!stores.has(d.datastore)) {
            ctx.addIssue({
              code: "custom",
              message: `VM ${JSON.stringify(v.name)}: unknown datastore ${JSON.stringify(d.datastore)}`,
            });
          }
          for (const w of d.data) {
            if (w.offset + w.length > d.capacity) {
              ctx.addIssue({
                code: "custom",
                message: `VM ${JSON.stringify(v.name)}: data at ${w.offset}+${w.length} is past the disk end ${d.capacity}`,
              });
            }
          }
        }
        if (v.power !== "off" && v.lastShutdown !== undefined) {
          ctx.addIssue({
            code: "custom",
            message: `VM ${JSON.stringify(v.name)}: lastShutdown only applies to powered-off VMs`,
          });
        }
      }
    }
  });

export type ScenarioInput = z.input<typeof scenarioSchema>;
export type Scenario = z.output<typeof scenarioSchema>;
export type ScenarioVm = Scenario["datacenters"][number]["vms"][number];
export type ScenarioDisk = ScenarioVm["disks"][number];

/** Validates a scenario object (already parsed). */
export function parseScenario(input: unknown, source = "scenario"): Scenario {
  const r = scenarioSchema.safeParse(input);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw simError("VSIM_SCENARIO_INVALID", `Invalid scenario ${source}: ${issues}`, { details: { source } });
  }
  return r.data;
}

/** Reads a scenario file (`.json` as JSON, anything else as YAML). */
export async function loadScenarioFile(path: string): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw simError("VSIM_SCENARIO_UNREADABLE", `Cannot read scenario file ${path}`, {
      cause,
      details: { path },
    });
  }
  let raw: unknown;
  try {
    raw = path.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (cause) {
    throw simError(
      "VSIM_SCENARIO_INVALID",
      `Scenario file ${path} is not valid ${path.endsWith(".json") ? "JSON" : "YAML"}`,
      {
        cause,
        details: { path },
      },
    );
  }
  return parseScenario(raw, path);
}
