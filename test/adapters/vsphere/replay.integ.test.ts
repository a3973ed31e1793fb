/**
 * The adapter against a scripted vCenter over real HTTPS, for what vcsim cannot do: CBT paging and
 * faults, quiesce failures and policies, consolidation, cleanPowerOff, paging tokens, retries and
 * session expiry as a SOAP fault. Answers follow vCenter's documented format.
 */
import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { connectVsphere, type VsphereSession } from "../../../adapters/vsphere/index.js";
import { isSnapvisorError } from "../../../src/domain/errors.js";
import { SNAPSHOT_PREFIX, type VmInfo } from "../../../src/domain/hypervisor.js";
import {
  arg,
  objectContent,
  retrieveTarget,
  startReplayServer,
  taskInfo,
  type Answer,
  type RecordedCall,
  type ReplayServer,
} from "./helpers/replay-server.js";

const CA_FILE = fileURLToPath(new URL("../../../../fixtures/vsphere/tls/cert.pem", import.meta.url));
const GiB = 2 ** 30;
const UUID = "52 de 2f 8e 2a 57 b4 3f-7c 8d 51 1e 0a 3c 66 6a";

let server: ReplayServer | undefined;
let session: VsphereSession | undefined;
const sleeps: number[] = [];

afterEach(async () => {
  await session?.close();
  await server?.close();
  session = undefined;
  server = undefined;
  sleeps.length = 0;
});

async function open(
  handler: (call: RecordedCall) => Answer | undefined,
  config: Record<string, unknown> = {},
) {
  server = await startReplayServer(handler);
  session = await connectVsphere(
    {
      url: server.url,
      username: "backup@vsphere.local",
      password: "pw",
      tls: { caFile: CA_FILE },
      quiesceRetryDelayMs: 5000,
      ...config,
    },
    {
      clock: { now: () => new Date(0) },
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    },
  );
  return session;
}

const vm = (over: Partial<VmInfo> = {}): VmInfo => ({
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
function model(
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

const calls = (method: string) => (server?.calls ?? []).filter((c) => c.method === method);

describe("snapshots against a scripted vCenter", () => {
  test("the client sends SOAPAction urn:vim25/6.5, the session cookie, and trusts a configured CA file", async () => {
    const m = model();
    const s = await open(m.handler);
    await s.removeLeftovers(vm());
    const call = calls("RetrievePropertiesEx")[0];
    assert.equal(call?.soapAction, '"urn:vim25/6.5"');
    assert.match(call?.cookie ?? "", /vmware_soap_session="session-1"/);
  });

  test("createSnapshot() asks memory=false and quiesce=true, and reads application consistency from the VSS manifest", async () => {
    const m = model({ manifest: true });
    const s = await open(m.handler);
    const snap = await s.createSnapshot(vm(), {
      jobId: "j1",
      expected: "application",
      policy: "require-application",
      quiesceAttempts: 3,
    });
    assert.equal(snap.achieved, "application");
    assert.equal(snap.reason, "");
    assert.deepEqual(snap.disks, [{ key: "2000", capacity: 3 * GiB, changeId: `${UUID}/42` }]);
    const req = calls("CreateSnapshot_Task")[0]?.args;
    assert.deepEqual(
      req?.children.map((c) => [c.name, c.text]),
      [
        ["_this", "vm-1"],
        ["name", `${SNAPSHOT_PREFIX}j1`],
        ["description", "snapvisor backup snapshot; job j1; removed automatically"],
        ["memory", "false"],
        ["quiesce", "true"],
      ],
    );
  });

  test("prefer-application retries a failing quiesce N times, then takes a crash-consistent snapshot with the reason", async () => {
    const m = model({ quiesceFailures: 5 });
    const s = await open(m.handler);
    const snap = await s.createSnapshot(vm(), {
      jobId: "j2",
      expected: "application",
      policy: "prefer-application",
      quiesceAttempts: 3,
    });
    assert.equal(snap.achieved, "crash");
    assert.match(snap.reason, /quiesce failed 3 time\(s\).*quiescing.*crash-consistent/);
    assert.deepEqual(
      calls("CreateSnapshot_Task").map((c) => arg(c.args, "quiesce")),
      ["true", "true", "true", "false"],
    );
    assert.deepEqual(sleeps.filter((ms) => ms === 5000).length, 2);
  });

  test("require-application fails with VSPHERE_QUIESCE_FAILED after N quiesce faults and takes no crash snapshot", async () => {
    const m = model({ quiesceFailures: 5 });
    const s = await open(m.handler);
    await assert.rejects(
      s.createSnapshot(vm(), {
        jobId: "j3",
        expected: "application",
        policy: "require-application",
        quiesceAttempts: 2,
      }),
      (e) =>
        isSnapvisorError(e, "VSPHERE_QUIESCE_FAILED") &&
        /Cannot quiesce VM "sql-01" after 2 attempt/.test(e.message),
    );
    assert.equal(calls("CreateSnapshot_Task").length, 2);
    assert.equal(m.nodes.length, 0);
  });

  test("a TaskInProgress fault is retried with backoff and the call then succeeds", async () => {
    const m = model({ taskInProgress: 2 });
    const s = await open(m.handler);
    const snap = await s.createSnapshot(vm({ guestOs: "linux" }), {
      jobId: "j4",
      expected: "crash",
      policy: "crash-only",
      quiesceAttempts: 1,
    });
    assert.equal(snap.achieved, "crash");
    assert.equal(calls("CreateSnapshot_Task").length, 3);
    assert.deepEqual(sleeps.slice(0, 2), [500, 1000]);
  });

  test("removeSnapshot() keeps children, then consolidates when vSphere says consolidationNeeded", async () => {
    const m = model({ consolidation: "needed" });
    const s = await open(m.handler);
    const snap = await s.createSnapshot(vm(), {
      jobId: "j5",
      expected: "crash",
      policy: "crash-only",
      quiesceAttempts: 1,
    });
    await s.removeSnapshot(vm(), snap);
    assert.deepEqual(
      calls("RemoveSnapshot_Task")[0]?.args.children.map((c) => [c.name, c.text]),
      [
        ["_this", snap.ref],
        ["removeChildren", "false"],
        ["consolidate", "true"],
      ],
    );
    assert.equal(calls("ConsolidateVMDisks_Task").length, 1);
    assert.equal(m.isConsolidationNeeded(), false);
  });

  test("a snapshot that cannot be read back is removed at once, and the error names it", async () => {
    const m = model({ hideTree: true });
    const s = await open(m.handler);
    await assert.rejects(
      s.createSnapshot(vm(), { jobId: "j8", expected: "crash", policy: "crash-only", quiesceAttempts: 1 }),
      (e) => isSnapvisorError(e, "VSPHERE_BAD_ANSWER") && /missing from its snapshot tree/.test(e.message),
    );
    assert.equal(calls("RemoveSnapshot_Task").length, 1);
    assert.equal(m.nodes.length, 0);
  });

  test("when CBT cannot be enabled the snapshot is still taken (full reads follow) with a warning", async () => {
    const m = model();
    const s = await open(m.handler);
    const noCbt = vm({ disks: vm().disks.map((d) => ({ ...d, changeTracking: false })) });
    const snap = await s.createSnapshot(noCbt, {
      jobId: "j9",
      expected: "crash",
      policy: "crash-only",
      quiesceAttempts: 1,
    });
    assert.equal(calls("ReconfigVM_Task").length, 1);
    assert.equal(snap.name, `${SNAPSHOT_PREFIX}j9`);
  });

  test("a failed consolidation ends in VSPHERE_CONSOLIDATION_FAILED naming the VM", async () => {
    const m = model({ consolidation: "fails" });
    const s = await open(m.handler);
    const snap = await s.createSnapshot(vm(), {
      jobId: "j6",
      expected: "crash",
      policy: "crash-only",
      quiesceAttempts: 1,
    });
    await assert.rejects(
      s.removeSnapshot(vm(), snap),
      (e) => isSnapvisorError(e, "VSPHERE_CONSOLIDATION_FAILED") && /sql-01.*locked/.test(e.message),
    );
  });
});

/** QueryChangedDiskAreas answered in 1 GiB windows from `extents`, or by `override`. */
function cbtHandler(extents: [number, number][], override?: (call: RecordedCall) => Answer | undefined) {
  return (call: RecordedCall): Answer | undefined => {
    if (call.method !== "QueryChangedDiskAreas") return undefined;
    const forced = override?.(call);
    if (forced !== undefined) return forced;
    const start = Number(arg(call.args, "startOffset"));
    const inside = extents.filter(([s]) => s >= start && s < start + GiB);
    return {
      xml: `<returnval><startOffset>${start}</startOffset><length>${GiB}</length>${inside.map(([s, l]) => `<changedArea><start>${s}</start><length>${l}</length></changedArea>`).join("")}</returnval>`,
    };
  };
}

const snapshot = {
  ref: "snapshot-7",
  name: `${SNAPSHOT_PREFIX}j`,
  achieved: "crash" as const,
  reason: "",
  disks: [],
};
const disk = { key: "2000", capacity: 3 * GiB, changeId: `${UUID}/42` };

describe("CBT against a scripted vCenter", () => {
  test("changedAreas() pages QueryChangedDiskAreas to the disk end from the previous changeId and merges extents", async () => {
    const s = await open(
      cbtHandler([
        [0, 65536],
        [65536, 65536],
        [GiB + 4096, 8192],
        [2 * GiB, 1 << 20],
      ]),
    );
    const areas = await s.changedAreas(vm(), snapshot, disk, { changeId: `${UUID}/40`, capacity: 3 * GiB });
    assert.deepEqual(areas, {
      kind: "incremental",
      extents: [
        { start: 0, length: 131072 },
        { start: GiB + 4096, length: 8192 },
        { start: 2 * GiB, length: 1 << 20 },
      ],
    });
    assert.deepEqual(
      calls("QueryChangedDiskAreas").map((c) => [
        arg(c.args, "startOffset"),
        arg(c.args, "changeId"),
        arg(c.args, "deviceKey"),
        arg(c.args, "snapshot"),
      ]),
      [0, GiB, 2 * GiB].map((o) => [String(o), `${UUID}/40`, "2000", "snapshot-7"]),
    );
  });

  test("the first backup asks changeId=* and reads the allocated areas in full", async () => {
    const s = await open(cbtHandler([[4096, 4096]]));
    const areas = await s.changedAreas(vm(), snapshot, disk, undefined);
    assert.equal(areas.kind, "full");
    assert.deepEqual(areas.kind === "full" ? areas.extents : [], [{ start: 4096, length: 4096 }]);
    assert.ok(calls("QueryChangedDiskAreas").every((c) => arg(c.args, "changeId") === "*"));
  });

  test("a FileFault on the previous changeId means a full read with the reason and the allocated map", async () => {
    const s = await open(
      cbtHandler([[0, 512]], (c) =>
        arg(c.args, "changeId") === "*"
          ? undefined
          : {
              fault: `<FileNotFoundFault xmlns="urn:vim25" xsi:type="FileNotFound"><file>[ds1] sql-01/sql-01-ctk.vmdk</file></FileNotFoundFault>`,
              message: "Error caused by file /vmfs/volumes/ds1/sql-01/sql-01-ctk.vmdk",
            },
      ),
    );
    const areas = await s.changedAreas(vm(), snapshot, disk, { changeId: `${UUID}/40`, capacity: 3 * GiB });
    assert.equal(areas.kind, "full");
    assert.match(areas.kind === "full" ? areas.reason : "", /refused changeId .*\/40.*VSPHERE_FILE_FAULT/);
    assert.deepEqual(areas.kind === "full" ? areas.extents : undefined, [{ start: 0, length: 512 }]);
  });

  test("a CBT reset (new changeId UUID) skips the incremental query and reads in full", async () => {
    const s = await open(cbtHandler([]));
    const areas = await s.changedAreas(vm(), snapshot, disk, { changeId: "52 00 11/9", capacity: 3 * GiB });
    assert.equal(areas.kind, "full");
    assert.match(areas.kind === "full" ? areas.reason : "", /CBT of disk 2000 was reset/);
    assert.ok(calls("QueryChangedDiskAreas").every((c) => arg(c.args, "changeId") === "*"));
  });

  const broken: [string, (c: RecordedCall) => Answer | undefined][] = [
    [
      "a page that does not advance",
      () => ({ xml: "<returnval><startOffset>0</startOffset><length>0</length></returnval>" }),
    ],
    [
      "a page that starts elsewhere",
      () => ({ xml: `<returnval><startOffset>512</startOffset><length>${GiB}</length></returnval>` }),
    ],
    [
      "an area outside its window",
      () => ({
        xml: `<returnval><startOffset>0</startOffset><length>4096</length><changedArea><start>4000</start><length>512</length></changedArea></returnval>`,
      }),
    ],
  ];
  for (const [name, answer] of broken) {
    test(`changedAreas() refuses ${name} with VSPHERE_CBT_INCONSISTENT`, async () => {
      const s = await open(cbtHandler([], answer));
      await assert.rejects(
        s.changedAreas(vm(), snapshot, disk, { changeId: `${UUID}/40`, capacity: 3 * GiB }),
        (e) => isSnapvisorError(e, "VSPHERE_CBT_INCONSISTENT"),
      );
    });
  }

  test("changedAreas() refuses offsets beyond 2^53 with a coded error instead of rounding", async () => {
    const s = await open(
      cbtHandler([], () => ({
        xml: `<returnval><startOffset>0</startOffset><length>9007199254740993</length></returnval>`,
      })),
    );
    await assert.rejects(
      s.changedAreas(vm(), snapshot, disk, { changeId: `${UUID}/40`, capacity: 3 * GiB }),
      (e) => isSnapvisorError(e, "VSPHERE_BAD_ANSWER") && /9007199254740993/.test(e.message),
    );
  });
});

describe("session and inventory against a scripted vCenter", () => {
  const VM_PAGE = (ref: string, name: string, power: string, clean?: boolean) =>
    `<objects><obj type="VirtualMachine">${ref}</obj><propSet><name>name</name><val xsi:type="xsd:string">${name}</val></propSet><propSet><name>runtime.powerState</name><val xsi:type="VirtualMachinePowerState">${power}</val></propSet>${clean === undefined ? "" : `<propSet><name>runtime.cleanPowerOff</name><val xsi:type="xsd:boolean">${clean}</val></propSet>`}<propSet><name>config.guestId</name><val xsi:type="xsd:string">windows2019srv_64Guest</val></propSet></objects>`;

  function inventoryHandler(onVm: (call: RecordedCall) => Answer | undefined) {
    return (call: RecordedCall): Answer | undefined => {
      switch (call.method) {
        case "CreateContainerView":
          return { xml: `<returnval type="ContainerView">session[1]${arg(call.args, "type")}</returnval>` };
        case "DestroyView":
          return { xml: "" };
        case "QueryEvents":
          return { xml: "" };
        case "RetrievePropertiesEx":
          return onVm(call);
        case "ContinueRetrievePropertiesEx":
          return onVm(call);
      }
      return undefined;
    };
  }

  test("inventory() follows ContinueRetrievePropertiesEx tokens and reads cleanPowerOff=false as dirty", async () => {
    const s = await open(
      inventoryHandler((call) => {
        if (call.method === "RetrievePropertiesEx") {
          assert.equal(call.args.children.find((c) => c.name === "options")?.children[0]?.text, "2");
          return {
            xml: `<returnval><token>t-1</token>${VM_PAGE("vm-1", "a", "poweredOn")}${VM_PAGE("vm-2", "b", "poweredOff", false)}</returnval>`,
          };
        }
        const token = arg(call.args, "token");
        if (token === "t-1")
          return {
            xml: `<returnval><token>t-2</token>${VM_PAGE("vm-3", "c", "poweredOff", true)}</returnval>`,
          };
        return { xml: `<returnval>${VM_PAGE("vm-4", "d", "suspended")}</returnval>` };
      }),
      { inventoryPageSize: 2 },
    );
    const vms = await s.inventory();
    assert.deepEqual(
      vms.map((v) => [v.name, v.power, v.lastShutdown, v.guestOs]),
      [
        ["a", "on", "unknown", "windows"],
        ["b", "off", "dirty", "windows"],
        ["c", "off", "clean", "windows"],
        ["d", "suspended", "unknown", "windows"],
      ],
    );
    assert.deepEqual(
      calls("ContinueRetrievePropertiesEx").map((c) => arg(c.args, "token")),
      ["t-1", "t-2"],
    );
  });

  test("a SOAP NotAuthenticated fault makes the client log in again once and repeat the call", async () => {
    let expired = true;
    const s = await open(
      inventoryHandler(() => {
        if (expired) {
          expired = false;
          return {
            fault: `<NotAuthenticatedFault xmlns="urn:vim25" xsi:type="NotAuthenticated"><object type="Folder">group-d1</object><privilegeId>System.View</privilegeId></NotAuthenticatedFault>`,
            message: "The session is not authenticated.",
          };
        }
        return { xml: `<returnval>${VM_PAGE("vm-1", "a", "poweredOn")}</returnval>` };
      }),
    );
    assert.equal((await s.inventory()).length, 1);
    assert.equal(calls("Login").length, 2);
    assert.match(calls("RetrievePropertiesEx").at(-1)?.cookie ?? "", /session-2/);
  });

  test("a non-XML HTTP 503 is VSPHERE_HTTP_STATUS, retried for reads up to maxAttempts", async () => {
    const s = await open(
      inventoryHandler(() => ({ status: 503, body: "<html>Service Unavailable</html>" })),
      { maxAttempts: 3 },
    );
    await assert.rejects(
      s.inventory(),
      (e) => isSnapvisorError(e, "VSPHERE_HTTP_STATUS") && e.retryable && /HTTP 503/.test(e.message),
    );
    assert.equal(calls("RetrievePropertiesEx").length, 3);
  });
});

describe("tasks against a scripted vCenter", () => {
  function slowTasks() {
    return (call: RecordedCall): Answer | undefined => {
      if (call.method === "CreateSnapshot_Task")
        return { xml: `<returnval type="Task">task-slow</returnval>` };
      if (call.method === "CancelTask") return { xml: "" };
      if (call.method === "RetrievePropertiesEx")
        return {
          xml: objectContent("Task", "task-slow", {
            info: taskInfo("task-slow", "running", "<progress>10</progress>"),
          }),
        };
      return undefined;
    };
  }

  test("a task that outlives taskTimeoutMs on the injected clock is cancelled and fails with VSPHERE_TASK_TIMEOUT", async () => {
    server = await startReplayServer(slowTasks());
    let t = 0;
    session = await connectVsphere(
      { url: server.url, username: "u", password: "pw", tls: { caFile: CA_FILE }, taskTimeoutMs: 60_000 },
      { clock: { now: () => new Date((t += 20_000)) }, sleep: async () => {} },
    );
    await assert.rejects(
      session.createSnapshot(vm(), {
        jobId: "slow",
        expected: "crash",
        policy: "crash-only",
        quiesceAttempts: 1,
      }),
      (e) => isSnapvisorError(e, "VSPHERE_TASK_TIMEOUT") && /task-slow is running/.test(e.message),
    );
    assert.equal(calls("CancelTask").length, 1);
  });

  test("an aborted wait cancels the task and fails with VSPHERE_ABORTED", async () => {
    server = await startReplayServer(slowTasks());
    const controller = new AbortController();
    session = await connectVsphere(
      { url: server.url, username: "u", password: "pw", tls: { caFile: CA_FILE } },
      {
        clock: { now: () => new Date(0) },
        sleep: async () => {
          controller.abort(new Error("job cancelled"));
        },
      },
    );
    await assert.rejects(
      session.createSnapshot(
        vm(),
        { jobId: "abort", expected: "crash", policy: "crash-only", quiesceAttempts: 1 },
        controller.signal,
      ),
      (e) => isSnapvisorError(e, "VSPHERE_ABORTED"),
    );
    assert.equal(calls("CancelTask").length, 1);
  });
});
