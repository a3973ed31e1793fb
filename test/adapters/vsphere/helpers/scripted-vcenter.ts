/**
 * A scripted vCenter for the adapter's tests of what vcsim cannot do: a one-VM model (snapshot tree,
 * tasks, consolidation flag, quiesce failures) answered in vCenter's format over the replay server,
 * and the session plumbing (CA-file trust, recorded sleeps, recorded calls).
 */
import { fileURLToPath } from "node:url";
import { connectVsphere, type VsphereSession } from "../../../../adapters/vsphere/index.js";
import type { VmInfo } from "../../../../src/domain/hypervisor.js";
import type { Clock } from "../../../../src/domain/ports.js";
import {
  arg,
  objectContent,
  retrieveTarget,
  startReplayServer,
  taskInfo,
  type Answer,
  type RecordedCall,
  type ReplayServer,
} from "./replay-server.js";

export const CA_FILE = fileURLToPath(
  new URL("../../../../../fixtures/vsphere/tls/cert.pem", import.meta.url),
);
export const GiB = 2 ** 30;
export const UUID = "52 de 2f 8e 2a 57 b4 3f-7c 8d 51 1e 0a 3c 66 6a";

/** One scripted server and the adapter session on it, for one test at a time. */
export class ScriptedVcenter {
  server: ReplayServer | undefined;
  session: VsphereSession | undefined;
  readonly sleeps: number[] = [];

  async open(
    handler: (call: RecordedCall) => Answer | undefined,
    config: Record<string, unknown> = {},
    deps: { clock?: Clock; sleep?: (ms: number) => Promise<void> } = {},
  ): Promise<VsphereSession> {
    this.server = await startReplayServer(handler);
    this.session = await connectVsphere(
      {
        url: this.server.url,
        username: "backup@vsphere.local",
        password: "pw",
        tls: { caFile: CA_FILE },
        quiesceRetryDelayMs: 5000,
        ...config,
      },
      {
        clock: deps.clock ?? { now: () => new Date(0) },
        sleep:
          deps.sleep ??
          (async (ms) => {
            this.sleeps.push(ms);
          }),
      },
    );
    return this.session;
  }

  calls(method: string): RecordedCall[] {
    return (this.server?.calls ?? []).filter((c) => c.method === method);
  }

  async close(): Promise<void> {
    await this.session?.close();
    await this.server?.close();
    this.session = undefined;
    this.server = undefined;
    this.sleeps.length = 0;
  }
}

export const vm = (over: Partial<VmInfo> = {}): VmInfo => ({
  id: "4203c5b2-0000-0000-0000-000000000001",
  name: "sql-01",
  hypervisor: "vsphere",
  ref: "vm-1",
  host: "esx-01",
  guestOs: "windows",
  power: "on",
  tools: "running",
  toolsDetail: "",
  lastShutdown: "unknown",
  lastShutdownDetail: "",
  disks: [
    {
      key: "2000",
      label: "Hard disk 1",
      capacity: 3 * GiB,
      path: "[ds1] sql-01/sql-01.vmdk",
      datastore: "ds1",
      changeTracking: true,
      shared: false,
    },
  ],
  snapshots: [],
  ...over,
});

/** A small vCenter model: one VM, its snapshot tree, tasks, consolidation flag. */
export function model(
  opts: {
    quiesceFailures?: number;
    manifest?: boolean;
    consolidation?: "none" | "needed" | "fails";
    taskInProgress?: number;
    userDelta?: boolean;
    hideTree?: boolean;
  } = {},
) {
  const tasks = new Map<string, string>();
  const nodes: { ref: string; name: string; description: string; quiesced: boolean }[] = [];
  let consolidationNeeded = false;
  let quiesceFailures = opts.quiesceFailures ?? 0;
  let busy = opts.taskInProgress ?? 0;
  let n = 0;
  const newTask = (state: "success" | "error", extra: string): Answer => {
    const t = `task-${++n}`;
    tasks.set(t, taskInfo(t, state, extra));
    return { xml: `<returnval type="Task">${t}</returnval>` };
  };
  const tree = () =>
    nodes.length === 0 || opts.hideTree === true
      ? {}
      : {
          snapshot: `<val xsi:type="VirtualMachineSnapshotInfo"><currentSnapshot type="VirtualMachineSnapshot">${nodes[nodes.length - 1]?.ref}</currentSnapshot>${nodes
            .map(
              (s) =>
                `<rootSnapshotList><snapshot type="VirtualMachineSnapshot">${s.ref}</snapshot><vm type="VirtualMachine">vm-1</vm><name>${s.name}</name><description>${s.description}</description><createTime>2026-01-01T00:00:00Z</createTime><state>poweredOff</state><quiesced>${s.quiesced}</quiesced>${s.quiesced && opts.manifest === true ? "<backupManifest>[ds1] sql-01/backup.xml</backupManifest>" : ""}</rootSnapshotList>`,
            )
            .join("")}</val>`,
        };
  const handler = (call: RecordedCall): Answer | undefined => {
    switch (call.method) {
      case "RetrievePropertiesEx": {
        const t = retrieveTarget(call);
        if (t.type === "Task")
          return { xml: objectContent("Task", t.value, { info: tasks.get(t.value) ?? "" }) };
        if (t.type === "VirtualMachine" && t.paths[0] === "snapshot")
          return { xml: objectContent("VirtualMachine", "vm-1", tree()) };
        if (t.type === "VirtualMachine" && t.paths[0] === "runtime.consolidationNeeded")
          return {
            xml: objectContent("VirtualMachine", "vm-1", {
              "runtime.consolidationNeeded": `<val xsi:type="xsd:boolean">${consolidationNeeded}</val>`,
            }),
          };
        if (t.type === "VirtualMachineSnapshot")
          return {
            xml: objectContent("VirtualMachineSnapshot", t.value, {
              "config.hardware.device": `<val xsi:type="ArrayOfVirtualDevice"><VirtualDevice xsi:type="VirtualLsiLogicSASController"><key>1000</key><busNumber>0</busNumber></VirtualDevice><VirtualDevice xsi:type="VirtualDisk"><key>2000</key><deviceInfo><label>Hard disk 1</label><summary>3 GB</summary></deviceInfo><backing xsi:type="VirtualDiskFlatVer2BackingInfo">${opts.userDelta === true ? "<fileName>[ds1] sql-01/sql-01-000001.vmdk</fileName>" : "<fileName>[ds1] sql-01/sql-01.vmdk</fileName>"}<datastore type="Datastore">datastore-11</datastore><diskMode>persistent</diskMode><uuid>6000C29a</uuid><changeId>${UUID}/42</changeId>${opts.userDelta === true ? `<parent><fileName>[ds1] sql-01/sql-01.vmdk</fileName><diskMode>persistent</diskMode></parent><deltaDiskFormat>seSparseFormat</deltaDiskFormat>` : ""}</backing><controllerKey>1000</controllerKey><unitNumber>0</unitNumber><capacityInKB>3145728</capacityInKB><capacityInBytes>3221225472</capacityInBytes></VirtualDevice></val>`,
            }),
          };
        return undefined;
      }
      case "CreateSnapshot_Task": {
        if (busy > 0) {
          busy--;
          return {
            fault: `<TaskInProgressFault xmlns="urn:vim25" xsi:type="TaskInProgress"><obj type="VirtualMachine">vm-1</obj><task type="Task">task-99</task></TaskInProgressFault>`,
            message: "Another task is already in progress.",
          };
        }
        const quiesce = arg(call.args, "quiesce") === "true";
        if (quiesce && quiesceFailures > 0) {
          quiesceFailures--;
          return newTask(
            "error",
            `<error><fault xsi:type="ApplicationQuiesceFault"></fault><localizedMessage>An error occurred while quiescing the virtual machine.</localizedMessage></error>`,
          );
        }
        const ref = `snapshot-${++n}`;
        nodes.push({
          ref,
          name: arg(call.args, "name") ?? "",
          description: arg(call.args, "description") ?? "",
          quiesced: quiesce,
        });
        return newTask(
          "success",
          `<result type="VirtualMachineSnapshot" xsi:type="ManagedObjectReference">${ref}</result>`,
        );
      }
      case "RemoveSnapshot_Task": {
        const ref = call.args.children[0]?.text;
        nodes.splice(
          nodes.findIndex((s) => s.ref === ref),
          1,
        );
        consolidationNeeded = opts.consolidation === "needed" || opts.consolidation === "fails";
        return newTask("success", "");
      }
      case "ConsolidateVMDisks_Task":
        if (opts.consolidation === "fails")
          return newTask(
            "error",
            `<error><fault xsi:type="FileLocked"><file>[ds1] sql-01/sql-01-flat.vmdk</file></fault><localizedMessage>Unable to access file since it is locked</localizedMessage></error>`,
          );
        consolidationNeeded = false;
        return newTask("success", "");
    }
    return undefined;
  };
  return { handler, nodes, isConsolidationNeeded: () => consolidationNeeded };
}
