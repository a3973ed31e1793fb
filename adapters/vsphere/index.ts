/**
 * The vSphere/ESXi adapter: `connectVsphere(config)` opens a SOAP session to vCenter or ESXi and
 * answers a `HypervisorSession`. This file is the adapter's only public entry.
 */
import { readFileSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import { noopLogger, type Clock, type Logger } from "../../src/domain/ports.js";
import { VimClient } from "./client.js";
import { describeConfig, resolveConfig, type VsphereConfig, type VsphereConfigInput } from "./config.js";
import { VsphereSession } from "./session.js";
import { HttpsTransport } from "./soap/transport.js";

export type { VsphereConfig, VsphereConfigInput } from "./config.js";
export type { VsphereErrorCode } from "./errors.js";
export { VsphereSession } from "./session.js";
export { VimClient } from "./client.js";
export { resolveConfig } from "./config.js";

export interface ConnectOptions {
  readonly logger?: Logger;
  readonly clock?: Clock;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Where `passwordEnv` names are looked up (the CLI passes process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly signal?: AbortSignal;
}

const systemClock: Clock = { now: () => new Date() };
const realSleep = (ms: number, signal?: AbortSignal) =>
  delay(ms, undefined, signal === undefined ? {} : { signal });

/** Validates `input`, connects and logs in. */
export async function connectVsphere(
  input: VsphereConfigInput | VsphereConfig,
  options: ConnectOptions = {},
): Promise<VsphereSession> {
  const config =
    "tlsPolicy" in input
      ? input
      : resolveConfig(input, { env: options.env ?? {}, readFile: (p) => readFileSync(p, "utf8") });
  const logger = (options.logger ?? noopLogger).child({
    adapter: "vsphere",
    endpoint: new URL(config.url).host,
  });
  if (config.tlsPolicy.mode === "insecure") {
    logger.warn(
      { endpoint: config.url },
      "TLS verification is OFF for this vSphere endpoint (tls.insecure); prefer tls.thumbprint or tls.caFile",
    );
  }
  logger.debug(describeConfig(config), "connecting to vSphere");
  const transport = new HttpsTransport(new URL(new URL(config.url).origin), {
    tls: config.tlsPolicy,
    timeoutMs: config.requestTimeoutMs,
    maxSockets: config.readConcurrencyPerHost + 4,
  });
  const sleep = options.sleep ?? realSleep;
  const client = new VimClient({
    transport,
    username: config.username,
    password: config.password,
    logger,
    apiVersion: config.apiVersion,
    maxAttempts: config.maxAttempts,
    sleep,
  });
  try {
    await client.connect(options.signal);
  } catch (err) {
    transport.close();
    throw err;
  }
  const reader = config.reader;
  const sshFetcher =
    reader.kind === "ssh"
      ? async (vmHost: string) => {
          const { SshFetcher } = await import("./ssh-reader.js");
          // Through vCenter the data lives on the VM's host; on a standalone ESXi it is the endpoint.
          const host = reader.host ?? (client.isVCenter ? vmHost : new URL(config.url).hostname);
          return SshFetcher.connect({ ...reader, host }, logger);
        }
      : undefined;
  return new VsphereSession({
    client,
    config,
    logger,
    clock: options.clock ?? systemClock,
    sleep,
    sshFetcher,
  });
}
