/**
 * Opening a `HypervisorSession` per source the chosen groups use, from the config: secrets are
 * resolved here (and only here), then handed to the adapter's connector. Connectors are injected,
 * so the CLI passes the real adapters and tests can pass simulators' or fakes'. If one source
 * cannot be opened, the ones already open are closed before the error goes up.
 */
import { messageOf } from "../domain/errors.js";
import type { HypervisorSession } from "../domain/hypervisor.js";
import { resolveSecret, type SecretSources } from "./config.js";
import type { Config } from "./config-schema.js";
import { ControllerError } from "./errors.js";

export type VsphereEndpoint = Config["vsphere"][number];
export type HypervSource =
  | { readonly kind: "host"; readonly host: Config["hyperv"]["hosts"][number] }
  | { readonly kind: "cluster"; readonly cluster: Config["hyperv"]["clusters"][number] };

/** What the vSphere adapter's `connectVsphere()` takes, built from an endpoint and its password. */
export interface VsphereAdapterInput {
  readonly url: string;
  readonly username: string;
  readonly password: string;
  readonly tls: { readonly thumbprint?: string; readonly caFile?: string; readonly insecure: boolean };
}

export function vsphereAdapterInput(endpoint: VsphereEndpoint, password: string): VsphereAdapterInput {
  const { thumbprint, caFile, insecure } = endpoint.tls;
  return {
    url: endpoint.url,
    username: endpoint.user,
    password,
    tls: {
      ...(thumbprint !== undefined ? { thumbprint } : {}),
      ...(caFile !== undefined ? { caFile } : {}),
      insecure,
    },
  };
}

export interface Connectors {
  vsphere(input: VsphereAdapterInput, signal?: AbortSignal): Promise<HypervisorSession>;
  /** Absent until the Hyper-V adapter is wired in; its sources then fail with a clear message. */
  hyperv?(source: HypervSource, secrets: SecretSources, signal?: AbortSignal): Promise<HypervisorSession>;
}

function hypervSource(config: Config, name: string): HypervSource | undefined {
  const host = config.hyperv.hosts.find((h) => h.name === name);
  if (host) return { kind: "host", host };
  const cluster = config.hyperv.clusters.find((c) => c.name === name);
  return cluster ? { kind: "cluster", cluster } : undefined;
}

async function openOne(
  config: Config,
  source: string,
  connectors: Connectors,
  secrets: SecretSources,
  signal: AbortSignal | undefined,
): Promise<HypervisorSession> {
  const endpoint = config.vsphere.find((e) => e.name === source);
  if (endpoint) {
    const password = await resolveSecret(
      endpoint.password,
      secrets,
      `the password of vSphere endpoint "${source}"`,
    );
    return connectors.vsphere(vsphereAdapterInput(endpoint, password), signal);
  }
  const hv = hypervSource(config, source);
  if (!hv) throw new ControllerError("USAGE", `No source named "${source}" in the config`);
  if (!connectors.hyperv) {
    throw new ControllerError(
      "USAGE",
      `Hyper-V source "${source}" cannot be opened: no Hyper-V connector in this build`,
    );
  }
  return connectors.hyperv(hv, secrets, signal);
}

/** Sessions for `sources` (config names), opened one after another. */
export async function openSessions(
  config: Config,
  sources: readonly string[],
  connectors: Connectors,
  secrets: SecretSources,
  signal?: AbortSignal,
): Promise<Map<string, HypervisorSession>> {
  const open = new Map<string, HypervisorSession>();
  try {
    for (const source of new Set(sources))
      open.set(source, await openOne(config, source, connectors, secrets, signal));
    return open;
  } catch (err) {
    await closeSessions(open);
    throw err;
  }
}

/** Closes every session; a failing close is reported through `onError`, never thrown. */
export async function closeSessions(
  sessions: ReadonlyMap<string, HypervisorSession>,
  onError: (source: string, message: string) => void = () => {},
): Promise<void> {
  await Promise.all(
    [...sessions].map(async ([source, s]) => {
      try {
        await s.close();
      } catch (err) {
        onError(source, messageOf(err));
      }
    }),
  );
}
