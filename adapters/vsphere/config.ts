/**
 * Adapter configuration: validated once with zod, secrets resolved from the config or an
 * environment variable named in it, then frozen. `describeConfig` is the only form that may be
 * logged (no password, no key).
 */
import { z } from "zod";
import { vsphereError } from "./errors.js";
import type { TlsPolicy } from "./soap/transport.js";

const fingerprint = z
  .string()
  .transform((s) => s.replace(/[:\s]/g, "").toLowerCase())
  .refine(
    (s) => /^([0-9a-f]{64}|[0-9a-f]{40})$/.test(s),
    "expected a SHA-256 (64 hex digits) or SHA-1 (40) fingerprint, colons allowed",
  );

const secret = z.object({
  password: z.string().min(1).optional(),
  passwordEnv: z.string().min(1).optional(),
});

export const sshReaderSchema = secret.extend({
  kind: z.literal("ssh"),
  /** ESXi host to read from; defaults to the endpoint's host name. */
  host: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65535).default(22),
  username: z.string().min(1).default("root"),
  privateKeyFile: z.string().min(1).optional(),
  /** SHA-256 of the host key (base64 as OpenSSH prints it, or hex): required, never trust on first use. */
  hostKeySha256: z.string().min(1),
});

export const vsphereConfigSchema = secret.extend({
  url: z.url({ protocol: /^https$/ }),
  username: z.string().min(1),
  tls: z
    .object({
      thumbprint: fingerprint.optional(),
      caFile: z.string().min(1).optional(),
      insecure: z.boolean().default(false),
    })
    .default({ insecure: false }),
  apiVersion: z
    .string()
    .regex(/^\d+\.\d+(\.\d+)*$/)
    .default("6.5"),
  requestTimeoutMs: z.number().int().positive().default(120_000),
  taskTimeoutMs: z.number().int().positive().default(3_600_000),
  maxAttempts: z.number().int().min(1).max(10).default(3),
  inventoryPageSize: z.number().int().min(1).max(10_000).default(500),
  eventConcurrency: z.number().int().min(1).max(64).default(4),
  readConcurrencyPerHost: z.number().int().min(1).max(64).default(4),
  maxFetchBytes: z
    .number()
    .int()
    .min(512)
    .max(256 * 1024 * 1024)
    .default(4 * 1024 * 1024),
  quiesceRetryDelayMs: z.number().int().min(0).default(5_000),
  enableCbt: z.boolean().default(true),
  reader: z
    .discriminatedUnion("kind", [z.object({ kind: z.literal("folder") }), sshReaderSchema])
    .default({ kind: "folder" }),
});

export type VsphereConfigInput = z.input<typeof vsphereConfigSchema>;
type Parsed = z.output<typeof vsphereConfigSchema>;

export interface ResolvedSsh extends Omit<
  z.output<typeof sshReaderSchema>,
  "password" | "passwordEnv" | "privateKeyFile"
> {
  readonly password: string | undefined;
  readonly privateKey: string | undefined;
}

export interface VsphereConfig extends Omit<Parsed, "password" | "passwordEnv" | "tls" | "reader"> {
  readonly password: string;
  readonly tlsPolicy: TlsPolicy;
  readonly reader: { readonly kind: "folder" } | ResolvedSsh;
}

export interface ResolveEnv {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly readFile: (path: string) => string;
}

function secretOf(
  s: { password?: string | undefined; passwordEnv?: string | undefined },
  env: ResolveEnv["env"],
  what: string,
): string | undefined {
  if (s.password !== undefined) return s.password;
  if (s.passwordEnv === undefined) return undefined;
  const value = env[s.passwordEnv];
  if (value === undefined || value === "")
    throw vsphereError("VSPHERE_CONFIG_INVALID", `${what}: environment variable ${s.passwordEnv} is not set`);
  return value;
}

export function resolveConfig(input: unknown, deps: ResolveEnv): VsphereConfig {
  const parsed = vsphereConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw vsphereError(
      "VSPHERE_CONFIG_INVALID",
      `Invalid vSphere configuration: ${issue?.message ?? "invalid"} at ${issue?.path.join(".") ?? ""}`,
      { cause: parsed.error },
    );
  }
  const c = parsed.data;
  const password = secretOf(c, deps.env, "vSphere password");
  if (password === undefined)
    throw vsphereError("VSPHERE_CONFIG_INVALID", "vSphere configuration needs password or passwordEnv");
  const modes = [c.tls.thumbprint !== undefined, c.tls.caFile !== undefined, c.tls.insecure].filter(
    Boolean,
  ).length;
  if (modes > 1)
    throw vsphereError("VSPHERE_CONFIG_INVALID", "tls: choose one of thumbprint, caFile or insecure");
  const tlsPolicy: TlsPolicy =
    c.tls.thumbprint !== undefined
      ? { mode: "pinned", fingerprint: c.tls.thumbprint }
      : c.tls.insecure
        ? { mode: "insecure" }
        : { mode: "verify", ca: c.tls.caFile === undefined ? undefined : deps.readFile(c.tls.caFile) };
  let reader: VsphereConfig["reader"] = { kind: "folder" };
  if (c.reader.kind === "ssh") {
    const { password: _p, passwordEnv: _e, privateKeyFile, ...rest } = c.reader;
    const sshPassword = secretOf(c.reader, deps.env, "SSH reader password");
    const privateKey = privateKeyFile === undefined ? undefined : deps.readFile(privateKeyFile);
    if (sshPassword === undefined && privateKey === undefined)
      throw vsphereError(
        "VSPHERE_CONFIG_INVALID",
        "reader ssh needs password, passwordEnv or privateKeyFile",
      );
    reader = { ...rest, password: sshPassword, privateKey };
  }
  const { password: _p, passwordEnv: _e, tls: _t, reader: _r, ...rest } = c;
  return Object.freeze({ ...rest, password, tlsPolicy, reader });
}

/** The configuration without secrets, safe for logs. */
export function describeConfig(c: VsphereConfig): Record<string, unknown> {
  return {
    url: c.url,
    username: c.username,
    tls: c.tlsPolicy.mode,
    reader: c.reader.kind,
    apiVersion: c.apiVersion,
  };
}
