/**
 * The config file's schema (zod). `ConfigInput` is what a user writes, `Config` what the controller
 * reads after defaults are applied. Secrets are never inline: a secret is `{ env: NAME }` or
 * `{ file: PATH }`, resolved when a connection is made (see `resolveSecret` in config.ts).
 */
import { z } from "zod";
import { parseSchedule, type Schedule } from "./schedule.js";
import { isValidTimeZone } from "./time-zone.js";

const name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "expected a name of letters, digits, '.', '_' or '-' (max 63)");
const path = z.string().min(1, "expected a non-empty path");
const count = (min: number) => z.number().int().min(min).max(1000);

export const secretSchema = z.union(
  [
    z.strictObject({
      env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "expected an environment variable name"),
    }),
    z.strictObject({ file: path }),
  ],
  { error: "expected { env: NAME } or { file: PATH } (secrets are never written in the config itself)" },
);
export type SecretRef = z.output<typeof secretSchema>;

/** SHA-256 certificate fingerprint, hex with or without colons; normalized to AA:BB:... */
const hexOnly = (s: string) => s.replace(/[:\s]/g, "").toUpperCase();
const thumbprint = z
  .string()
  .refine(
    (s) => /^[0-9A-F]{64}$/.test(hexOnly(s)),
    "expected a SHA-256 fingerprint (64 hex digits, colons allowed)",
  )
  .transform((s) => hexOnly(s).match(/../g)?.join(":") ?? s);

const tlsSchema = z
  .strictObject({
    thumbprint: thumbprint.optional(),
    caFile: path.optional(),
    insecure: z.boolean().default(false),
  })
  .refine((t) => !(t.insecure && (t.thumbprint !== undefined || t.caFile !== undefined)), {
    error: "insecure: true cannot be combined with thumbprint or caFile",
  });

export const vsphereEndpointSchema = z.strictObject({
  name,
  url: z
    .url({ protocol: /^https$/, error: "expected an https:// URL of a vCenter or ESXi host" })
    .transform((u) => u.replace(/\/+$/, "")),
  user: z.string().min(1),
  password: secretSchema,
  tls: tlsSchema.default({ insecure: false }),
});

/** OpenSSH host key fingerprint as `ssh-keygen -lf` prints it. */
const hostKey = z
  .string()
  .regex(
    /^SHA256:[A-Za-z0-9+/]{43}=?$/,
    "expected an OpenSSH fingerprint like SHA256:<43 base64 characters>",
  );

const sshSchema = z.strictObject({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(22),
  user: z.string().min(1),
  keyFile: path,
  keyPassphrase: secretSchema.optional(),
  hostKey,
});

/**
 * `local` runs Windows PowerShell on this machine; `{ local: { executable, filesRoot } }` names
 * another PowerShell executable (the Hyper-V simulator's, which `snapvisor sim` prints) and where
 * the host's volumes are mounted (`C:\x\y.vhdx` read as `<filesRoot>/C/x/y.vhdx`).
 */
const localSchema = z.strictObject({ executable: path, filesRoot: path.optional() });

const hypervTransportSchema = z.union(
  [z.literal("local"), z.strictObject({ local: localSchema }), z.strictObject({ ssh: sshSchema })],
  { error: 'expected "local", { local: { executable } } or { ssh: { host, user, keyFile, hostKey } }' },
);

export const hypervHostSchema = z.strictObject({ name, transport: hypervTransportSchema });

export const hypervClusterSchema = z.strictObject({
  name,
  /** Cluster nodes; the adapter finds the owner node of each VM among them before each step. */
  nodes: z.array(hypervHostSchema).min(1, "expected at least one node"),
});

const vmSelectorSchema = z.union(
  [
    z.strictObject({ name: z.string().min(1) }),
    z.strictObject({ pattern: z.string().min(1) }),
    z.strictObject({ id: z.string().min(1) }),
  ],
  { error: "expected { name: NAME }, { pattern: GLOB } or { id: ID }" },
);
export type VmSelector = z.output<typeof vmSelectorSchema>;

const retentionSchema = z
  .strictObject({
    keepLast: count(0).default(0),
    daily: count(0).default(0),
    weekly: count(0).default(0),
    monthly: count(0).default(0),
    yearly: count(0).default(0),
  })
  .refine((r) => r.keepLast + r.daily + r.weekly + r.monthly + r.yearly > 0, {
    error: "keeps nothing: set at least one of keepLast, daily, weekly, monthly, yearly above 0",
  });

const policyShape = {
  consistency: z
    .enum(["require-application", "prefer-application", "crash-only"])
    .default("prefer-application"),
  quiesceAttempts: count(1).default(3),
  schedule: z.string().default("manual"),
  timeZone: z
    .string()
    .refine(isValidTimeZone, "expected an IANA time zone like UTC or Europe/Paris")
    .default("UTC"),
  retention: retentionSchema.default({ keepLast: 7, daily: 0, weekly: 0, monthly: 0, yearly: 0 }),
};

const policySchema = z.strictObject(policyShape).transform((p, ctx) => {
  let schedule: Schedule;
  try {
    schedule = parseSchedule(p.schedule, { timeZone: p.timeZone });
  } catch (err) {
    ctx.addIssue({ code: "custom", path: ["schedule"], message: (err as Error).message, input: p.schedule });
    return z.NEVER;
  }
  return { ...p, schedule };
});

export const protectionGroupSchema = z.strictObject({
  name,
  /** Name of a vSphere endpoint, Hyper-V host or Hyper-V cluster. */
  source: name,
  vms: z.array(vmSelectorSchema).min(1, "expected at least one VM selector"),
  exclude: z.array(vmSelectorSchema).default([]),
  /** Shared disks (guest-cluster VHDX) of the group's VMs: all, none, or these paths. */
  sharedDisks: z.union([z.enum(["all", "none"]), z.array(path)]).default("all"),
  policy: policySchema.default(policySchema.parse({})),
});

const limitsSchema = z.strictObject({
  global: count(1).default(4),
  perHost: count(1).default(2),
  perDatastore: count(1).default(2),
  perCsv: count(1).default(2),
  openSnapshotsPerDatastore: count(1).default(4),
});

export const configSchema = z
  .strictObject({
    vsphere: z.array(vsphereEndpointSchema).default([]),
    hyperv: z
      .strictObject({
        hosts: z.array(hypervHostSchema).default([]),
        clusters: z.array(hypervClusterSchema).default([]),
      })
      .default({ hosts: [], clusters: [] }),
    repository: z.strictObject({ path, passphrase: secretSchema.optional() }),
    protectionGroups: z.array(protectionGroupSchema).default([]),
    limits: limitsSchema.default(limitsSchema.parse({})),
    /** Job history (JSON lines), one file per config; default beside the repository. */
    historyFile: path.optional(),
  })
  .superRefine((c, ctx) => {
    const sources = new Map<string, string>();
    const claim = (n: string, where: (string | number)[]) => {
      const prev = sources.get(n);
      if (prev !== undefined)
        ctx.addIssue({ code: "custom", path: where, message: `name already used by ${prev}`, input: n });
      else sources.set(n, where.join("."));
    };
    c.vsphere.forEach((e, i) => claim(e.name, ["vsphere", i, "name"]));
    c.hyperv.hosts.forEach((h, i) => claim(h.name, ["hyperv", "hosts", i, "name"]));
    c.hyperv.clusters.forEach((k, i) => claim(k.name, ["hyperv", "clusters", i, "name"]));
    const groups = new Set<string>();
    c.protectionGroups.forEach((g, i) => {
      if (groups.has(g.name))
        ctx.addIssue({
          code: "custom",
          path: ["protectionGroups", i, "name"],
          message: "group name already used",
          input: g.name,
        });
      groups.add(g.name);
      if (!sources.has(g.source)) {
        const known = [...sources.keys()].join("|") || "(none configured)";
        ctx.addIssue({
          code: "custom",
          path: ["protectionGroups", i, "source"],
          message: `expected one of ${known}`,
          input: g.source,
        });
      }
    });
  });

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type ProtectionGroup = Config["protectionGroups"][number];
export type GroupPolicy = ProtectionGroup["policy"];
export type Limits = Config["limits"];
