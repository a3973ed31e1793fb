/**
 * The Hyper-V simulator: a model-backed host or cluster reachable as the `powershell` executable
 * node-powershell spawns (one wrapper per node) and as one Windows OpenSSH endpoint per node, with a
 * control API. `snapvisor sim hyperv` and the tests start it with startHypervSimulator().
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SimControl, serveControl } from "./control.js";
import { HypervModel } from "./model.js";
import { PsGrammar } from "./ps/grammar.js";
import { PsRelay } from "./relay.js";
import { parseScenario, type Scenario, type ScenarioInput } from "./scenario.js";
import { NodeSshServer, type SshCredentials, type SshEndpoint } from "./ssh-server.js";
import { VhdxImages } from "./vhdx-images.js";

export { SimControl } from "./control.js";
export {
  loadScenario,
  parseScenario,
  type Scenario,
  type ScenarioInput,
  type FaultRule,
} from "./scenario.js";
export { patternBytes } from "./disks.js";
export type { HypervModel } from "./model.js";

export interface HypervNodeEndpoints {
  readonly name: string;
  /** For node-powershell: `new PowerShell({ executable })` runs this node's PowerShell. */
  readonly executable: string;
  readonly ssh: SshEndpoint;
}

export interface HypervSimulator {
  readonly nodes: readonly HypervNodeEndpoints[];
  readonly credentials: SshCredentials;
  /** Root of the simulated volumes: `C:\x\y.vhdx` is `<filesRoot>/C/x/y.vhdx`. */
  readonly filesRoot: string;
  readonly control: SimControl;
  readonly controlUrl: string;
  /** Bearer token of the HTTP control API. */
  readonly controlToken: string;
  readonly model: HypervModel;
  stop(): Promise<void>;
}

export interface StartHypervSimulatorOptions {
  /** A parsed scenario or its input form (validated here). */
  readonly scenario: Scenario | ScenarioInput;
  /** Working directory: volumes, wrapper executables and the relay socket live here. */
  readonly dir: string;
  readonly credentials?: SshCredentials;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export async function startHypervSimulator(options: StartHypervSimulatorOptions): Promise<HypervSimulator> {
  const scenario = parseScenario(options.scenario);
  const filesRoot = join(options.dir, "volumes");
  const bin = join(options.dir, "bin");
  await mkdir(filesRoot, { recursive: true });
  await mkdir(bin, { recursive: true });
  const images = new VhdxImages();
  const grammar = await PsGrammar.load();
  const model = await HypervModel.load(scenario, filesRoot, images);
  const credentials = options.credentials ?? {
    username: "Administrator",
    password: randomBytes(12).toString("base64url"),
  };
  const socket = join(options.dir, "ps.sock");
  const controlToken = randomBytes(18).toString("base64url");
  const relay = await PsRelay.listen(socket, grammar, model);
  const exe = fileURLToPath(new URL("./ps-exe.js", import.meta.url));
  const servers: NodeSshServer[] = [];
  const nodes: HypervNodeEndpoints[] = [];
  let control: { url: string; server: Server } | undefined;
  try {
    for (const n of scenario.nodes) {
      const executable = join(bin, `powershell-${n.name.replace(/[^A-Za-z0-9_-]/g, "_")}`);
      await writeFile(
        executable,
        `#!/bin/sh\nexec ${shellQuote(process.execPath)} ${shellQuote(exe)} --socket ${shellQuote(socket)} --node ${shellQuote(n.name)} "$@"\n`,
      );
      await chmod(executable, 0o755);
      const server = new NodeSshServer(n.name, model, grammar, credentials);
      servers.push(server);
      nodes.push({ name: n.name, executable, ssh: await server.listen() });
    }
    control = await serveControl(new SimControl(model), controlToken);
  } catch (err) {
    for (const s of servers) await s.close();
    await relay.close();
    await images.close();
    throw err;
  }
  const controlServer = control.server;
  return {
    nodes,
    credentials,
    filesRoot,
    control: new SimControl(model),
    controlUrl: control.url,
    controlToken,
    model,
    async stop() {
      controlServer.closeAllConnections();
      await new Promise<void>((resolve) => controlServer.close(() => resolve()));
      for (const s of servers) await s.close();
      await relay.close();
      await images.close();
    },
  };
}
