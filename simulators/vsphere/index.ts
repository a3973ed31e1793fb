/**
 * The vSphere simulator: a vim25 SOAP server over HTTPS on loopback (`/sdk`), datastore file access
 * (`/folder`), a control API (`/sim`), and optionally the ESXi shell over SSH, all backed by one
 * model loaded from a scenario. `snapvisor sim --scenario FILE` starts it.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { Clock } from "../../src/domain/ports.js";
import { startEsxiSsh, type EsxiSshEndpoint } from "../esxi-ssh/server.js";
import { selfSignedCertificate } from "./cert.js";
import { applyRule, handleControl } from "./control-api.js";
import { simError } from "./errors.js";
import { handleFolder } from "./folder-http.js";
import { VsphereModel } from "./model.js";
import { loadScenarioFile, parseScenario, type Scenario, type ScenarioInput } from "./scenario.js";
import { SoapEndpoint } from "./soap-server.js";
import { createSnapshot } from "./vm-ops.js";

export { loadScenarioFile, parseScenario, type Scenario, type ScenarioInput } from "./scenario.js";
export type { FaultRuleInput } from "./fault-rules.js";

export interface VsphereSimulatorOptions {
  /** A scenario object (validated here) or the path of a YAML/JSON scenario file. */
  readonly scenario: ScenarioInput | Scenario | string;
  /** Folder for the datastores' files (created if missing). */
  readonly dir: string;
  /** HTTPS port on 127.0.0.1 (0 or omitted: any free port). */
  readonly port?: number;
  readonly clock?: Clock;
  /** Start the ESXi SSH endpoint (default: when the scenario has an `ssh` section). */
  readonly ssh?: boolean;
}

export interface VsphereSimulator {
  /** `https://127.0.0.1:PORT/sdk` */
  readonly sdkUrl: string;
  /** SHA-256 thumbprint of the server certificate (AA:BB:...), for pinning. */
  readonly thumbprint: string;
  readonly certificatePem: string;
  /** `https://127.0.0.1:PORT/sim`, with `Authorization: Bearer <controlToken>`. */
  readonly controlUrl: string;
  readonly controlToken: string;
  readonly ssh: Pick<EsxiSshEndpoint, "host" | "port" | "hostKeyFingerprint" | "hostPublicKey"> | undefined;
  readonly model: VsphereModel;
  stop(): Promise<void>;
}

const systemClock: Clock = { now: () => new Date() };

export async function startVsphereSimulator(options: VsphereSimulatorOptions): Promise<VsphereSimulator> {
  const scenario =
    typeof options.scenario === "string"
      ? await loadScenarioFile(options.scenario)
      : parseScenario(options.scenario);
  const clock = options.clock ?? systemClock;
  mkdirSync(options.dir, { recursive: true });
  const model = new VsphereModel(scenario, options.dir, clock);
  const soap = new SoapEndpoint(model);
  for (const rule of scenario.faults) if (rule.kind === "session-expiry") applyRule(model, soap, rule);
  for (const dc of scenario.datacenters) {
    for (const v of dc.vms) {
      const vm = model.vmByName(v.name)!;
      for (const s of v.snapshots)
        createSnapshot(model, vm, {
          name: s.name,
          description: s.description,
          memory: false,
          quiesce: false,
        });
    }
  }
  const cert = selfSignedCertificate("snapvisor-vsphere-simulator", clock.now());
  const controlToken = randomBytes(24).toString("base64url");
  const server: Server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    const url = new URL(req.url ?? "/", "https://127.0.0.1");
    const route = url.pathname;
    const fail = (err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "Content-Type": "text/plain" });
      res.end(`internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    };
    if (route === "/sdk" || route === "/sdk/") {
      if (req.method !== "POST") {
        res.writeHead(405, { Allow: "POST" }).end();
        return;
      }
      soap.handle(req, res).catch(fail);
    } else if (route.startsWith("/folder/")) {
      try {
        handleFolder(model, soap, req, res, url);
      } catch (err) {
        fail(err);
      }
    } else if (route.startsWith("/sim/")) {
      handleControl(model, soap, controlToken, req, res, url).catch(fail);
    } else {
      res.writeHead(404, { "Content-Type": "text/plain" }).end("Not Found\n");
    }
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (cause) =>
      reject(simError("VSIM_START_FAILED", `Cannot listen on 127.0.0.1:${options.port ?? 0}`, { cause })),
    );
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let ssh: EsxiSshEndpoint | undefined;
  if (options.ssh ?? scenario.ssh !== undefined) {
    const s = scenario.ssh ?? { user: "root", password: scenario.credentials.password, authorizedKeys: [] };
    try {
      ssh = await startEsxiSsh(model, {
        user: s.user,
        password: s.password,
        authorizedKeys: s.authorizedKeys,
      });
    } catch (err) {
      server.close();
      throw err;
    }
  }
  const base = `https://127.0.0.1:${port}`;
  return {
    sdkUrl: `${base}/sdk`,
    thumbprint: cert.thumbprint,
    certificatePem: cert.certPem,
    controlUrl: `${base}/sim`,
    controlToken,
    ssh: ssh && {
      host: ssh.host,
      port: ssh.port,
      hostKeyFingerprint: ssh.hostKeyFingerprint,
      hostPublicKey: ssh.hostPublicKey,
    },
    model,
    stop: async () => {
      model.tasks.releaseAll();
      await ssh?.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      model.close();
    },
  };
}
