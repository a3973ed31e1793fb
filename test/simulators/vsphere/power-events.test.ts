import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { kid, kids, refXml, textAt, xsiType, type Ref } from "../../support/vim-soap-client.js";
import { runTask, scenario, startLab, vmSpec, type Lab } from "./helpers.js";

const EM: Ref = { type: "EventManager", value: "EventManager" };

describe("vSphere simulator power operations and events", () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab(
      scenario([
        vmSpec("guest-off", { power: "off", lastShutdown: "guest-shutdown" }),
        vmSpec("hard-off", { power: "off", lastShutdown: "power-off" }),
        vmSpec("crashed", { power: "off", lastShutdown: "crash" }),
        vmSpec("imported", { power: "off", lastShutdown: "unknown" }),
        vmSpec("ops"),
        vmSpec("no-tools", { tools: "not-installed" }),
      ]),
    );
  });
  after(() => lab.stop());

  async function events(vm: Ref, types: string[] = [], max = 100) {
    const [...vals] = await lab.client.ok(
      "QueryEvents",
      EM,
      `<filter><entity>${refXml("entity", vm)}<recursion>self</recursion></entity>${types.map((t) => `<eventTypeId>${t}</eventTypeId>`).join("")}<maxCount>${max}</maxCount></filter>`,
    );
    return vals.map((v) => xsiType(v));
  }

  const evidence: [string, string | undefined, string[]][] = [
    ["guest-off", "true", ["VmPoweredOffEvent", "VmGuestShutdownEvent"]],
    ["hard-off", "true", ["VmPoweredOffEvent", "VmStoppingEvent"]],
    ["crashed", "false", []],
    ["imported", undefined, []],
  ];
  for (const [name, clean, history] of evidence) {
    it(`carries the shutdown evidence of ${name}: cleanPowerOff=${clean ?? "unset"}, events ${history.join(", ") || "none"}`, async () => {
      const vm = await lab.vm(name);
      assert.equal((await lab.prop(vm, "runtime.cleanPowerOff"))?.text, clean);
      assert.deepEqual(await events(vm), history);
    });
  }

  it("posts power events newest first, sets cleanPowerOff on power-off and clears it on power-on", async () => {
    const vm = await lab.vm("ops");
    const off = await runTask(lab, "PowerOffVM_Task", vm);
    assert.equal(textAt(off, "state"), "success");
    assert.equal((await lab.prop(vm, "runtime.powerState"))?.text, "poweredOff");
    assert.equal((await lab.prop(vm, "runtime.cleanPowerOff"))?.text, "true");
    assert.equal((await lab.prop(vm, "guest.toolsRunningStatus"))?.text, "guestToolsNotRunning");
    const again = await runTask(lab, "PowerOffVM_Task", vm);
    assert.equal(xsiType(kid(again, "error", "fault")!), "InvalidPowerState");
    assert.equal(textAt(again, "error", "fault", "existingState"), "poweredOff");
    await runTask(lab, "PowerOnVM_Task", vm);
    assert.equal(await lab.prop(vm, "runtime.cleanPowerOff"), undefined);
    assert.equal((await lab.prop(vm, "guest.toolsRunningStatus"))?.text, "guestToolsRunning");
    assert.equal((await lab.prop(vm, "guest.guestFamily"))?.text, "windowsGuest");
    const types = await events(vm, ["VmPoweredOffEvent", "VmPoweredOnEvent"]);
    assert.deepEqual(types.slice(0, 2), ["VmPoweredOnEvent", "VmPoweredOffEvent"]);
    assert.equal((await events(vm, [], 1)).length, 1, "maxCount holds");
  });

  it("shuts a guest down only through running Tools", async () => {
    const r = await lab.client.call("ShutdownGuest", await lab.vm("no-tools"));
    assert.ok(!r.ok);
    assert.equal(r.faultType, "ToolsUnavailable");
    const vm = await lab.vm("ops");
    assert.ok((await lab.client.call("ShutdownGuest", vm)).ok);
    let state = "";
    while (state !== "poweredOff") state = (await lab.prop(vm, "runtime.powerState"))?.text ?? "";
    assert.deepEqual(await events(vm, [], 2), ["VmPoweredOffEvent", "VmGuestShutdownEvent"]);
  });

  it("renames a VM (events carry old and new names) and refuses a duplicate name", async () => {
    const vm = await lab.vm("hard-off");
    const ok = await runTask(lab, "Rename_Task", vm, "<newName>hard-off &lt;renamed&gt;</newName>");
    assert.equal(textAt(ok, "state"), "success");
    assert.equal((await lab.prop(vm, "name"))?.text, "hard-off <renamed>");
    const [ev] = await lab.client.ok(
      "QueryEvents",
      EM,
      `<filter><eventTypeId>VmRenamedEvent</eventTypeId></filter>`,
    );
    assert.equal(textAt(ev, "oldName"), "hard-off");
    assert.equal(textAt(ev, "newName"), "hard-off <renamed>");
    const dup = await runTask(lab, "Rename_Task", vm, "<newName>crashed</newName>");
    assert.equal(xsiType(kid(dup, "error", "fault")!), "DuplicateName");
  });

  it("records a host crash driven through the control API: dirty, no event", async () => {
    const vm = await lab.vm("no-tools");
    assert.equal((await lab.control("POST", "/vms/no-tools/power", { action: "crash" })).status, 200);
    assert.equal((await lab.prop(vm, "runtime.cleanPowerOff"))?.text, "false");
    const types = await events(vm, ["VmPoweredOffEvent"]);
    assert.deepEqual(types, []);
  });

  it("filters events by entity recursion over the inventory", async () => {
    const [dc] = kids(
      await lab.prop({ type: "Folder", value: "group-d1" }, "childEntity"),
      "ManagedObjectReference",
    );
    const all = await lab.client.ok(
      "QueryEvents",
      EM,
      `<filter><entity><entity type="Datacenter">${dc!.text}</entity><recursion>all</recursion></entity></filter>`,
    );
    const self = await lab.client.ok(
      "QueryEvents",
      EM,
      `<filter><entity><entity type="Folder">group-d1</entity><recursion>self</recursion></entity></filter>`,
    );
    assert.ok(all.length > 5);
    assert.equal(self.length, 0);
  });

  it("moves a VM to another host mid-job through the control API: runtime.host changes, VmMigratedEvent", async () => {
    const vm = await lab.vm("guest-off");
    const before = (await lab.prop(vm, "runtime.host"))?.text;
    const r = await lab.control("POST", "/vms/guest-off/migrate", { host: "esx-02" });
    assert.equal(r.status, 200);
    const after = (await lab.prop(vm, "runtime.host"))?.text;
    assert.notEqual(after, before);
    const [ev] = await lab.client.ok(
      "QueryEvents",
      EM,
      `<filter><eventTypeId>VmMigratedEvent</eventTypeId></filter>`,
    );
    assert.equal(textAt(ev, "host", "name"), "esx-02");
    assert.equal(textAt(ev, "sourceHost", "name"), "esx-01");
    assert.equal((await lab.control("POST", "/vms/guest-off/migrate", { host: "nowhere" })).status, 409);
  });
});
