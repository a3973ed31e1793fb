/** Session, inventory paging and tasks against a scripted vCenter. */
import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { isSnapvisorError } from "../../../src/domain/errors.js";
import { arg, objectContent, taskInfo, type Answer, type RecordedCall } from "./helpers/replay-server.js";
import { ScriptedVcenter, vm } from "./helpers/scripted-vcenter.js";

const ctx = new ScriptedVcenter();
afterEach(() => ctx.close());

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

  test("inventory() follows ContinueRetrievePropertiesEx tokens, reads cleanPowerOff=false as dirty and skips orphaned VMs", async () => {
    const s = await ctx.open(
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
        const orphan = `<objects><obj type="VirtualMachine">vm-5</obj><propSet><name>name</name><val xsi:type="xsd:string">gone</val></propSet><propSet><name>runtime.powerState</name><val xsi:type="VirtualMachinePowerState">poweredOff</val></propSet><propSet><name>runtime.connectionState</name><val xsi:type="VirtualMachineConnectionState">orphaned</val></propSet></objects>`;
        return { xml: `<returnval>${VM_PAGE("vm-4", "d", "suspended")}${orphan}</returnval>` };
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
      ctx.calls("ContinueRetrievePropertiesEx").map((c) => arg(c.args, "token")),
      ["t-1", "t-2"],
    );
  });

  test("a SOAP NotAuthenticated fault makes the client log in again once and repeat the call", async () => {
    let expired = true;
    const s = await ctx.open(
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
    assert.equal(ctx.calls("Login").length, 2);
    assert.match(ctx.calls("RetrievePropertiesEx").at(-1)?.cookie ?? "", /session-2/);
  });

  test("a non-XML HTTP 503 is VSPHERE_HTTP_STATUS, retried for reads up to maxAttempts", async () => {
    const s = await ctx.open(
      inventoryHandler(() => ({ status: 503, body: "<html>Service Unavailable</html>" })),
      { maxAttempts: 3 },
    );
    await assert.rejects(
      s.inventory(),
      (e) => isSnapvisorError(e, "VSPHERE_HTTP_STATUS") && e.retryable && /HTTP 503/.test(e.message),
    );
    assert.equal(ctx.calls("RetrievePropertiesEx").length, 3);
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
    let t = 0;
    const session = await ctx.open(
      slowTasks(),
      { taskTimeoutMs: 60_000 },
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
    assert.equal(ctx.calls("CancelTask").length, 1);
  });

  test("an aborted wait cancels the task and fails with VSPHERE_ABORTED", async () => {
    const controller = new AbortController();
    const session = await ctx.open(
      slowTasks(),
      {},
      {
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
    assert.equal(ctx.calls("CancelTask").length, 1);
  });
});
