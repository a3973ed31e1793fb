/**
 * Connections to the sources a command needs: a vSphere session per endpoint, a Hyper-V session per
 * host or cluster. Secrets are resolved here, when the connection is made, and never logged.
 */
import { readFile } from "node:fs/promises";
import type { Config } from "../../controller/config-schema.js";
import { resolveSecret, type SecretSources } from "../../controller/config.js";
import { ControllerError } from "../../controller/errors.js";
import type { HypervisorSession } from "../../domain/hypervisor.js";
import type { Logger } from "../../domain/ports.js";

export interface SessionOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
  /** Only these sources (the chosen groups'); all when absent. */
  readonly only?: ReadonlySet<string>;
}

export function secretSources(env: Readonly<Record<string, string | undefined>>): SecretSources {
  return { env, readFile: (path) => readFile(path, "utf8") };
}

/** SHA-256 thumbprints as the adapter takes them; SHA-1 pins are refused as too weak to pin. */
function sha256Pin(thumbprint: string | undefined, where: string): string | undefined {
  if (thumbprint === undefined) return undefined;
  const hex = thumbprint.replace(/:/g, "");
  if (hex.length !== 64) {
    throw new ControllerError(
      "CONFIG_INVALID",
      `${where}: pin the SHA-256 fingerprint of the certificate, not SHA-1`,
    );
  }
  return hex.toLowerCase();
}

export async function openSessions(
  config: Config,
  options: SessionOptions,
): Promise<Map<string, HypervisorSession>> {
  const sessions = new Map<string, HypervisorSession>();
  const wanted = (name: string) => !options.only || options.only.has(name);
  try {
    for (const [i, ep] of config.vsphere.entries()) {
      if (!wanted(ep.name)) continue;
      const { connectVsphere } = await import("../../../adapters/vsphere/index.js");
      const password = await resolveSecret(ep.password, secretSources(options.env), `vsphere[${i}].password`);
      const thumbprint = sha256Pin(ep.tls.thumbprint, `vsphere[${i}].tls.thumbprint`);
      const session = await connectVsphere(
        {
          url: ep.url.endsWith("/sdk") ? ep.url : `${ep.url}/sdk`,
          username: ep.user,
          password,
          tls: {
            insecure: ep.tls.insecure,
            ...(thumbprint ? { thumbprint } : {}),
            ...(ep.tls.caFile ? { caFile: ep.tls.caFile } : {}),
          },
        },
        { env: options.env, logger: options.logger, ...(options.signal ? { signal: options.signal } : {}) },
      );
      sessions.set(ep.name, session);
    }
    const hyperv = [...config.hyperv.hosts.map((h) => h.name), ...config.hyperv.clusters.map((c) => c.name)];
    for (const name of hyperv.filter(wanted)) {
      sessions.set(name, await openHypervSession(config, name, options));
    }
  } catch (err) {
    await closeSessions(sessions);
    throw err;
  }
  return sessions;
}

async function openHypervSession(
  _config: Config,
  name: string,
  _options: SessionOptions,
): Promise<HypervisorSession> {
  throw new ControllerError(
    "USAGE",
    `Hyper-V source "${name}": the Hyper-V adapter is not part of this build yet`,
  );
}

export async function closeSessions(sessions: ReadonlyMap<string, HypervisorSession>): Promise<void> {
  await Promise.allSettled([...sessions.values()].map((s) => s.close()));
}
