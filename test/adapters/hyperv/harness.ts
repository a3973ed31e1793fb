/** Starts the Hyper-V simulator for a test file and connects the adapter through either transport. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectHyperv, type HypervSession } from "../../../adapters/hyperv/index.js";
import {
  loadScenario,
  startHypervSimulator,
  type HypervSimulator,
} from "../../../simulators/hyperv/index.js";
import type { ScenarioInput } from "../../../simulators/hyperv/scenario.js";
import type { DiskSource } from "../../../src/domain/ports.js";

export type TransportKind = "local" | "ssh";
export const TRANSPORTS: readonly TransportKind[] = ["local", "ssh"];

export interface Lab {
  readonly sim: HypervSimulator;
  session(
    kind: TransportKind,
    options?: { timeoutMs?: number; maxJobPolls?: number; node?: number },
  ): HypervSession;
  close(): Promise<void>;
}

export const LAB_SCENARIO = "fixtures/scenarios/hyperv-lab.yaml";

export async function startLab(scenario?: ScenarioInput): Promise<Lab> {
  const dir = await mkdtemp(join(tmpdir(), "hv-"));
  const sim = await startHypervSimulator({ scenario: scenario ?? (await loadScenario(LAB_SCENARIO)), dir });
  const sessions: HypervSession[] = [];
  return {
    sim,
    session(kind, options = {}) {
      const n = sim.nodes[options.node ?? 0];
      if (!n) throw new Error("no node");
      const timeout = options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {};
      const s = connectHyperv(
        kind === "local"
          ? { transport: "local", executable: n.executable, filesRoot: sim.filesRoot, ...timeout }
          : {
              transport: "ssh",
              host: n.ssh.host,
              port: n.ssh.port,
              username: sim.credentials.username,
              password: sim.credentials.password,
              hostKeyFingerprint: n.ssh.hostKeyFingerprint,
              ...timeout,
            },
        {
          sleep: async () => {},
          ...(options.maxJobPolls !== undefined ? { maxJobPolls: options.maxJobPolls } : {}),
        },
      );
      sessions.push(s);
      return s;
    },
    async close() {
      for (const s of sessions) await s.close().catch(() => undefined);
      await sim.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function readAll(source: DiskSource): Promise<Uint8Array> {
  const out = new Uint8Array(source.capacity);
  for (let at = 0; at < out.length; at += 4 << 20) {
    await source.read(out.subarray(at, Math.min(out.length, at + (4 << 20))), at);
  }
  return out;
}

/** Our checkpoints still on the host (recovery snapshots named with the product prefix). */
export function ourCheckpoints(sim: HypervSimulator): string[] {
  return sim.model.snapshots.filter((s) => s.name.startsWith("snapvisor-backup-")).map((s) => s.name);
}

/** The frozen file of a disk (by its model disk) in the checkpoint named `name`. */
export function frozenFile(sim: HypervSimulator, name: string, diskPath: string): string {
  for (const s of sim.model.snapshots.filter((x) => x.name === name)) {
    const f = s.frozen.find((x) => x.disk.basePath.toLowerCase() === diskPath.toLowerCase());
    if (f) return f.file;
  }
  throw new Error(`no frozen file of ${diskPath} in ${name}`);
}
