/**
 * The Hyper-V adapter's public entry: `connectHyperv(config)` validates the configuration once and
 * returns a HypervisorSession over local PowerShell (node-powershell) or Windows OpenSSH.
 */
import { z } from "zod";
import { hypervError } from "./errors.js";
import { HypervSession, type HypervSessionOptions } from "./client.js";
import { LocalTransport } from "./transport-local.js";
import { SshTransport } from "./transport-ssh.js";
import type { PsTransport } from "./transport.js";

export { HypervSession, type HypervSessionOptions, type InventoryProblem } from "./client.js";
export type { HypervErrorCode, HypervError } from "./errors.js";
export type { PsTransport, PsOutput } from "./transport.js";
export { LocalTransport } from "./transport-local.js";
export { SshTransport, fingerprintOf } from "./transport-ssh.js";
export { classifyShutdown } from "./shutdown.js";
export { VSS_IC_ID, HEARTBEAT_IC_ID } from "./vm-info.js";

const common = { timeoutMs: z.number().int().positive().optional() };

export const hypervConfigSchema = z.discriminatedUnion("transport", [
  z
    .object({
      transport: z.literal("local"),
      executable: z.string().min(1).default("powershell"),
      filesRoot: z.string().min(1).optional(),
      ...common,
    })
    .strict(),
  z
    .object({
      transport: z.literal("ssh"),
      host: z.string().min(1),
      port: z.number().int().min(1).max(65535).default(22),
      username: z.string().min(1),
      password: z.string().min(1).optional(),
      privateKey: z.string().min(1).optional(),
      passphrase: z.string().min(1).optional(),
      hostKeyFingerprint: z
        .string()
        .regex(/^SHA256:[A-Za-z0-9+/]{43}$/, 'a pinned "SHA256:..." host key fingerprint'),
      ...common,
    })
    .strict()
    .refine((c) => c.password !== undefined || c.privateKey !== undefined, {
      message: "give a password or a private key",
    }),
]);

export type HypervConfigInput = z.input<typeof hypervConfigSchema>;
export type HypervConfig = Readonly<z.output<typeof hypervConfigSchema>>;

export function parseHypervConfig(input: unknown): HypervConfig {
  const r = hypervConfigSchema.safeParse(input);
  if (!r.success) {
    // Never echo the input: it holds the password.
    const issue = r.error.issues[0];
    throw hypervError(
      "HYPERV_CONFIG_INVALID",
      `Invalid Hyper-V connection settings at ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? ""}`,
    );
  }
  return Object.freeze(r.data);
}

export function transportFor(config: HypervConfig): PsTransport {
  if (config.transport === "local") {
    return new LocalTransport({
      executable: config.executable,
      ...(config.filesRoot !== undefined ? { filesRoot: config.filesRoot } : {}),
      ...(config.timeoutMs !== undefined ? { timeoutMs: config.timeoutMs } : {}),
    });
  }
  return new SshTransport({
    host: config.host,
    port: config.port,
    username: config.username,
    ...(config.password !== undefined ? { password: config.password } : {}),
    ...(config.privateKey !== undefined ? { privateKey: config.privateKey } : {}),
    ...(config.passphrase !== undefined ? { passphrase: config.passphrase } : {}),
    hostKeyFingerprint: config.hostKeyFingerprint,
    ...(config.timeoutMs !== undefined ? { timeoutMs: config.timeoutMs } : {}),
  });
}

/** Connects lazily: the first call opens the shell or the SSH connection. */
export function connectHyperv(
  config: HypervConfigInput | HypervConfig,
  options: HypervSessionOptions = {},
): HypervSession {
  return new HypervSession(transportFor(parseHypervConfig(config)), options);
}
