/** Shared set-up for the simulator's end-to-end tests: a lab scenario, a logged-in client, helpers. */
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  startVsphereSimulator,
  type ScenarioInput,
  type VsphereSimulator,
} from "../../../simulators/vsphere/index.js";
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
} from "../../support/vim-soap-client.js";

export const USER = "administrator@vsphere.local";
export const PASSWORD = "S3cret&<pw>";

type VmInput = ScenarioInput["datacenters"][number]["vms"] extends (infer T)[] | undefined ? T : never;

export function vmSpec(name: string, over: Partial<VmInput> = {}): VmInput {
  return {
    name,
    host: "esx-01",
    guest: { id: "windows9Server64Guest", fullName: "Microsoft Windows Server 2016 or later (64-bit)" },
    tools: "running",
    power: "on",
    disks: [{ capacity: "4MiB", datastore: "ds1", data: [{ offset: 0, length: "256KiB", seed: 1 }] }],
    ...over,
  };
}

export function scenario(vms: VmInput[], over: Partial<ScenarioInput> = {}): ScenarioInput {
  return {
    credentials: { user: USER, password: PASSWORD },
    datacenters: [
      {
        name: "DC1",
        datastores: [{ name: "ds1" }, { name: "ds2" }],
        clusters: [{ name: "C1", hosts: [{ name: "esx-01" }, { name: "esx-02" }] }],
        hosts: [{ name: "esx-03" }],
        vms,
      },
    ],
    ...over,
  };
}

export interface Lab {
  readonly sim: VsphereSimulator;
  readonly client: VimTestClient;
  readonly dir: string;
  vm(name: string): Promise<Ref>;
  prop(obj: Ref, path: string): Promise<El | undefined>;
  waitTask(task: Ref): Promise<El>;
  control(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: unknown; body: Buffer }>;
  stop(): Promise<void>;
}

export const SI: Ref = { type: "ServiceInstance", value: "ServiceInstance" };
export const PC: Ref = { type: "PropertyCollector", value: "propertyCollector" };

export async function login(client: VimTestClient, user = USER, password = PASSWORD) {
  return client.call(
    "Login",
    { type: "SessionManager", value: "SessionManager" },
    `<userName>${esc(user)}</userName><password>${esc(password)}</password>`,
  );
}

export function propsRequest(obj: Ref, paths: readonly string[]): string {
  return `<specSet><propSet><type>${obj.type}</type>${paths.map((p) => `<pathSet>${p}</pathSet>`).join("")}</propSet><objectSet>${refXml("obj", obj)}</objectSet></specSet><options/>`;
}

export async function startLab(input: ScenarioInput, opts: { ssh?: boolean } = {}): Promise<Lab> {
  const dir = mkdtempSync(join(tmpdir(), "vsim-test-"));
  const sim = await startVsphereSimulator({
    scenario: input,
    dir,
    ...(opts.ssh !== undefined ? { ssh: opts.ssh } : {}),
  });
  const client = new VimTestClient(sim.sdkUrl);
  const r = await login(client);
  if (!r.ok) throw new Error(`login failed: ${r.faultString}`);
  const lab: Lab = {
    sim,
    client,
    dir,
    async vm(name) {
      const vm = sim.model.vmByName(name);
      if (!vm) throw new Error(`no VM ${name}`);
      return { type: "VirtualMachine", value: vm.ref.value };
    },
    async prop(obj, path) {
      const [oc] = await client.ok("RetrievePropertiesEx", PC, propsRequest(obj, [path]));
      const ps = kids(kid(oc, "objects"), "propSet").find((p) => textAt(p, "name") === path);
      return kid(ps, "val");
    },
    async waitTask(task) {
      // Wait through WaitForUpdatesEx on info.state (no sleeping), then read the whole info.
      const [filter] = await client.ok(
        "CreateFilter",
        PC,
        `<spec><propSet><type>Task</type><pathSet>info.state</pathSet></propSet><objectSet>${refXml("obj", task)}</objectSet></spec><partialUpdates>false</partialUpdates>`,
      );
      let version = "";
      for (;;) {
        const [set] = await client.ok(
          "WaitForUpdatesEx",
          PC,
          `<version>${version}</version><options><maxWaitSeconds>30</maxWaitSeconds></options>`,
        );
        version = textAt(set, "version") ?? version;
        const state = textAt(set, "filterSet", "objectSet", "changeSet", "val");
        if (state === "success" || state === "error") break;
      }
      await client.ok("DestroyPropertyFilter", ref(filter));
      const info = await lab.prop(task, "info");
      if (!info) throw new Error("task has no info");
      return info;
    },
    control(method, path, body) {
      return new Promise((resolve, reject) => {
        const req = request(
          `${sim.controlUrl}${path}`,
          {
            method,
            rejectUnauthorized: false,
            headers: { Authorization: `Bearer ${sim.controlToken}`, "Content-Type": "application/json" },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => {
              const buf = Buffer.concat(chunks);
              const isJson = String(res.headers["content-type"]).includes("json");
              resolve({
                status: res.statusCode ?? 0,
                json: isJson ? (JSON.parse(buf.toString()) as unknown) : undefined,
                body: buf,
              });
            });
          },
        );
        req.on("error", reject);
        req.end(body === undefined ? undefined : JSON.stringify(body));
      });
    },
    async stop() {
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return lab;
}

/** Runs a `*_Task` method and waits for its end; returns the TaskInfo element. */
export async function runTask(lab: Lab, method: string, self: Ref, inner = ""): Promise<El> {
  const [task] = await lab.client.ok(method, self, inner);
  return lab.waitTask(ref(task));
}

export function snapshotArgs(name: string, quiesce: boolean, memory = false): string {
  return `<name>${esc(name)}</name><description>test</description><memory>${memory}</memory><quiesce>${quiesce}</quiesce>`;
}

/** The snapshot tree node named `name` (depth-first). */
export function findNode(tree: El | undefined, name: string): El | undefined {
  for (const n of [...kids(tree, "rootSnapshotList"), ...kids(tree, "childSnapshotList")]) {
    if (textAt(n, "name") === name) return n;
    const deeper = findNode(n, name);
    if (deeper) return deeper;
  }
  return undefined;
}
