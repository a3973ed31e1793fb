/**
 * Starting the two peers of the conformance suite: VMware's vcsim (built by tools/vcsim/build.sh) and
 * our simulator loaded with vcsim's default inventory (fixtures/scenarios/vcsim-vpx.yaml).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { startVsphereSimulator, type VsphereSimulator } from "../../simulators/vsphere/index.js";
import {
  esc,
  kid,
  kids,
  ref,
  refXml,
  textAt,
  VimTestClient,
  type El,
  type Ref,
} from "../support/vim-soap-client.js";

/** The vcsim binary: VCSIM_BIN (set by .ci/run), SNAPVISOR_VCSIM, or tools/vcsim/build.sh's default. */
export function vcsimPath(): string | undefined {
  const candidates = [
    process.env["VCSIM_BIN"],
    process.env["SNAPVISOR_VCSIM"],
    join(process.env["XDG_CACHE_HOME"] ?? join(homedir(), ".cache"), "snapvisor", "vcsim"),
  ];
  return candidates.find((p): p is string => p !== undefined && existsSync(p));
}

export interface Peer {
  readonly name: "vcsim" | "ours";
  readonly client: VimTestClient;
  readonly sdkUrl: string;
  readonly root: Ref;
  /** Datastore folder on disk (ours only: vcsim keeps its own temp dir). */
  readonly stop: () => Promise<void>;
  readonly sim?: VsphereSimulator;
}

export async function startVcsim(binary: string): Promise<Peer> {
  const child: ChildProcess = spawn(binary, ["-l", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "pipe"] });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once("line", (l) => {
      rl.close();
      resolve(l);
    });
    child.once("exit", (code) => reject(new Error(`vcsim exited with ${code}`)));
  });
  const url = new URL(line.trim());
  url.username = "";
  url.password = "";
  const client = new VimTestClient(url.toString());
  return {
    name: "vcsim",
    client,
    sdkUrl: url.toString(),
    root: { type: "Folder", value: "group-d1" },
    stop: async () => {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    },
  };
}

export async function startOurs(): Promise<Peer> {
  const dir = mkdtempSync(join(tmpdir(), "vsim-conformance-"));
  const sim = await startVsphereSimulator({ scenario: "fixtures/scenarios/vcsim-vpx.yaml", dir });
  return {
    name: "ours",
    client: new VimTestClient(sim.sdkUrl),
    sdkUrl: sim.sdkUrl,
    root: { type: "Folder", value: "group-d1" },
    sim,
    stop: async () => {
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const SI: Ref = { type: "ServiceInstance", value: "ServiceInstance" };
export const PC: Ref = { type: "PropertyCollector", value: "propertyCollector" };
export const SM: Ref = { type: "SessionManager", value: "SessionManager" };

export function loginXml(user: string, password: string): string {
  return `<userName>${esc(user)}</userName><password>${esc(password)}</password>`;
}

/** VMs by name through a container view on the root folder. */
export async function vmsByName(peer: Peer): Promise<Map<string, Ref>> {
  const [view] = await peer.client.ok(
    "CreateContainerView",
    { type: "ViewManager", value: "ViewManager" },
    `${refXml("container", peer.root)}<type>VirtualMachine</type><recursive>true</recursive>`,
  );
  const [res] = await peer.client.ok(
    "RetrievePropertiesEx",
    PC,
    `<specSet><propSet><type>VirtualMachine</type><pathSet>name</pathSet></propSet><objectSet>${refXml("obj", ref(view))}<skip>true</skip><selectSet xsi:type="TraversalSpec"><type>ContainerView</type><path>view</path><skip>false</skip></selectSet></objectSet></specSet><options/>`,
  );
  const out = new Map<string, Ref>();
  for (const o of kids(res, "objects")) out.set(textAt(o, "propSet", "val") ?? "", ref(kid(o, "obj")));
  return out;
}

/** One property's `val` element (undefined when unset), plus a fault type when the call failed. */
export async function property(
  peer: Peer,
  obj: Ref,
  path: string,
): Promise<{ val: El | undefined; fault?: string | undefined; missing?: string | undefined }> {
  const r = await peer.client.call(
    "RetrievePropertiesEx",
    PC,
    `<specSet><propSet><type>${obj.type}</type><pathSet>${path}</pathSet></propSet><objectSet>${refXml("obj", obj)}</objectSet></specSet><options/>`,
  );
  if (!r.ok) return { val: undefined, ...(r.faultType ? { fault: r.faultType } : {}) };
  const objects = kid(kid(r.body, "returnval"), "objects");
  const missing = kid(objects, "missingSet", "fault", "fault");
  const val = kid(
    kids(objects, "propSet").find((p) => textAt(p, "name") === path),
    "val",
  );
  return { val, ...(missing ? { missing: missingType(missing) } : {}) };
}

function missingType(e: El): string | undefined {
  for (const [k, v] of Object.entries(e.attrs)) if (k.endsWith(":type")) return v.slice(v.indexOf(":") + 1);
  return undefined;
}

/** Polls a task's info until it ends (vcsim ends tasks synchronously, ours asynchronously). */
export async function waitTask(peer: Peer, task: Ref): Promise<El> {
  for (;;) {
    const { val } = await property(peer, task, "info");
    const state = textAt(val, "state");
    if (state === "success" || state === "error") return val!;
  }
}
