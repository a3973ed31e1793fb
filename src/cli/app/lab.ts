/**
 * The simulated lab of `snapvisor sim` and `snapvisor demo`: simulators started from scenario files,
 * their endpoints, a control-API client, and a config that points snapvisor at them.
 */
import { request } from "node:https";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  loadScenario,
  startHypervSimulator,
  type HypervSimulator,
} from "../../../simulators/hyperv/index.js";
import { startVsphereSimulator, type VsphereSimulator } from "../../../simulators/vsphere/index.js";
import type { ConfigInput } from "../../controller/config-schema.js";

/** The fixtures folder of the installed package (dist/src/cli/app -> package root). */
export const FIXTURES = fileURLToPath(new URL("../../../../fixtures/", import.meta.url));
export const DEMO_VSPHERE_SCENARIO = join(FIXTURES, "scenarios", "vsphere-lab.yaml");
export const DEMO_HYPERV_SCENARIO = join(FIXTURES, "scenarios", "hyperv-lab.yaml");
export const DEMO_PASSWORD_ENV = "SNAPVISOR_LAB_VCENTER_PASSWORD";

export interface Lab {
  readonly vsphere: VsphereSimulator;
  /** The Hyper-V failover cluster, reachable as each node's `powershell` executable and over SSH. */
  readonly hyperv: HypervSimulator;
  readonly vspherePassword: string;
  readonly vsphereUser: string;
  endpoints(): Record<string, unknown>;
  /** A control-API call on the vSphere simulator; the answer's body as bytes. */
  control(method: string, path: string, body?: unknown): Promise<{ status: number; body: Buffer }>;
  stop(): Promise<void>;
}

export async function startLab(options: {
  dir: string;
  vsphereScenario?: string;
  hypervScenario?: string;
}): Promise<Lab> {
  const scenarioPath = options.vsphereScenario ?? DEMO_VSPHERE_SCENARIO;
  const vsphere = await startVsphereSimulator({ scenario: scenarioPath, dir: join(options.dir, "vsphere") });
  let hyperv: HypervSimulator;
  try {
    hyperv = await startHypervSimulator({
      scenario: await loadScenario(options.hypervScenario ?? DEMO_HYPERV_SCENARIO),
      dir: join(options.dir, "hyperv"),
    });
  } catch (err) {
    await vsphere.stop();
    throw err;
  }
  const credentials = (
    vsphere.model as unknown as { scenario: { credentials: { user: string; password: string } } }
  ).scenario?.credentials;
  return {
    vsphere,
    hyperv,
    vsphereUser: credentials.user,
    vspherePassword: credentials.password,
    endpoints() {
      return {
        vsphere: {
          sdkUrl: vsphere.sdkUrl,
          thumbprint: vsphere.thumbprint,
          controlUrl: vsphere.controlUrl,
          controlToken: vsphere.controlToken,
          ssh: vsphere.ssh
            ? { host: vsphere.ssh.host, port: vsphere.ssh.port, hostKey: vsphere.ssh.hostKeyFingerprint }
            : null,
        },
        // Throwaway credentials of a local simulator, printed so a config can reach it.
        hyperv: {
          nodes: hyperv.nodes.map((n) => ({
            name: n.name,
            executable: n.executable,
            ssh: { host: n.ssh.host, port: n.ssh.port, hostKey: n.ssh.hostKeyFingerprint },
          })),
          filesRoot: hyperv.filesRoot,
          ssh: { username: hyperv.credentials.username, password: hyperv.credentials.password },
          controlUrl: hyperv.controlUrl,
          controlToken: hyperv.controlToken,
        },
      };
    },
    control(method, path, body) {
      return new Promise((resolve, reject) => {
        const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
        const req = request(
          `${vsphere.controlUrl}${path}`,
          {
            method,
            ca: vsphere.certificatePem,
            headers: {
              Authorization: `Bearer ${vsphere.controlToken}`,
              ...(payload ? { "Content-Type": "application/json", "Content-Length": payload.length } : {}),
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
            res.on("error", reject);
          },
        );
        req.on("error", reject);
        req.end(payload);
      });
    },
    async stop() {
      await Promise.allSettled([vsphere.stop(), hyperv.stop()]);
    },
  };
}

/** A config that protects every VM of the lab into `repoDir`; the password comes from DEMO_PASSWORD_ENV. */
export function labConfig(lab: Lab, repoDir: string): ConfigInput {
  return {
    vsphere: [
      {
        name: "lab-vcenter",
        url: lab.vsphere.sdkUrl,
        user: lab.vsphereUser,
        password: { env: DEMO_PASSWORD_ENV },
        tls: { thumbprint: lab.vsphere.thumbprint },
      },
    ],
    hyperv: {
      clusters: [
        {
          name: "lab-hyperv",
          // Each node is reached as node-powershell reaches a local host: the simulator's executable.
          nodes: lab.hyperv.nodes.map((n) => ({
            name: n.name,
            transport: { local: { executable: n.executable, filesRoot: lab.hyperv.filesRoot } },
          })),
        },
      ],
    },
    repository: { path: repoDir },
    protectionGroups: [
      {
        name: "lab",
        source: "lab-vcenter",
        vms: [{ pattern: "*" }],
        policy: { consistency: "prefer-application", quiesceAttempts: 2 },
      },
      {
        name: "lab-hyperv",
        source: "lab-hyperv",
        vms: [{ pattern: "*" }],
        sharedDisks: "all",
        policy: { consistency: "prefer-application", quiesceAttempts: 2 },
      },
    ],
    historyFile: join(repoDir, "..", "history.jsonl"),
  };
}
