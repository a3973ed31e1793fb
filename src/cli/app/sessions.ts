/**
 * The CLI's side of opening sessions: where secrets come from (the process environment and files)
 * and the real adapters as the controller's connectors (src/controller/connect.ts opens them).
 */
import { readFile } from "node:fs/promises";
import type { SecretSources } from "../../controller/config.js";
import type { Config } from "../../controller/config-schema.js";
import { openSessions, type Connectors } from "../../controller/connect.js";
import type { HypervisorSession } from "../../domain/hypervisor.js";
import type { Logger } from "../../domain/ports.js";

export function secretSources(env: Readonly<Record<string, string | undefined>>): SecretSources {
  return { env, readFile: (path) => readFile(path, "utf8") };
}

export function cliConnectors(env: Readonly<Record<string, string | undefined>>, logger: Logger): Connectors {
  return {
    async vsphere(input, signal) {
      const { connectVsphere } = await import("../../../adapters/vsphere/index.js");
      return connectVsphere(
        { ...input, url: input.url.endsWith("/sdk") ? input.url : `${input.url}/sdk` },
        { env, logger, ...(signal ? { signal } : {}) },
      );
    },
  };
}

/** Sessions for the given sources (all of the config's when absent), with the real adapters. */
export async function openConfigSessions(
  env: Readonly<Record<string, string | undefined>>,
  config: Config,
  options: { logger: Logger; signal?: AbortSignal; sources?: readonly string[] },
): Promise<Map<string, HypervisorSession>> {
  const all = [
    ...config.vsphere.map((e) => e.name),
    ...config.hyperv.hosts.map((h) => h.name),
    ...config.hyperv.clusters.map((c) => c.name),
  ];
  return openSessions(
    config,
    options.sources ?? all,
    cliConnectors(env, options.logger),
    secretSources(env),
    options.signal,
  );
}

export { closeSessions } from "../../controller/connect.js";
