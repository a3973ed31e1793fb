/**
 * The CLI's side of opening sessions: where secrets come from (the process environment and files)
 * and the real adapters as the controller's connectors (src/controller/connect.ts opens them).
 */
import { readFile } from "node:fs/promises";
import { resolveSecret, type SecretSources } from "../../controller/config.js";
import type { Config } from "../../controller/config-schema.js";
import { openSessions, type Connectors, type HypervSource } from "../../controller/connect.js";
import { ControllerError } from "../../controller/errors.js";
import type { HypervisorSession } from "../../domain/hypervisor.js";
import type { Logger } from "../../domain/ports.js";

export function secretSources(env: Readonly<Record<string, string | undefined>>): SecretSources {
  return { env, readFile: (path) => readFile(path, "utf8") };
}

/**
 * A Hyper-V host is reached through its first node's transport: the adapter asks the cluster for
 * each VM's owner node through it. Local PowerShell (Windows' own, or the simulator's executable),
 * or Windows OpenSSH with the configured key and pinned host key.
 */
async function connectHypervSource(
  source: HypervSource,
  secrets: SecretSources,
  logger: Logger,
): Promise<HypervisorSession> {
  const transport = source.kind === "host" ? source.host.transport : source.cluster.nodes[0]?.transport;
  const name = source.kind === "host" ? source.host.name : source.cluster.name;
  const { connectHyperv } = await import("../../../adapters/hyperv/index.js");
  if (transport === undefined) throw new ControllerError("USAGE", `Hyper-V cluster "${name}" has no nodes`);
  if (transport === "local") return connectHyperv({ transport: "local" }, { logger });
  if ("local" in transport) {
    return connectHyperv(
      {
        transport: "local",
        executable: transport.local.executable,
        ...(transport.local.filesRoot !== undefined ? { filesRoot: transport.local.filesRoot } : {}),
      },
      { logger },
    );
  }
  const { ssh } = transport;
  const passphrase = ssh.keyPassphrase
    ? await resolveSecret(ssh.keyPassphrase, secrets, `the key passphrase of Hyper-V source "${name}"`)
    : undefined;
  return connectHyperv(
    {
      transport: "ssh",
      host: ssh.host,
      port: ssh.port,
      username: ssh.user,
      privateKey: await secrets.readFile(ssh.keyFile),
      ...(passphrase !== undefined ? { passphrase } : {}),
      hostKeyFingerprint: ssh.hostKey.replace(/=$/, ""),
    },
    { logger },
  );
}

export function cliConnectors(env: Readonly<Record<string, string | undefined>>, logger: Logger): Connectors {
  return {
    hyperv: (source, secrets) => connectHypervSource(source, secrets, logger),
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
