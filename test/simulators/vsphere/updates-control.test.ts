import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { kid, ref, refXml, textAt, VimTestClient, xsiType } from "../../support/vim-soap-client.js";
import { login, PC, runTask, scenario, startLab, vmSpec, type Lab } from "./helpers.js";

describe("vSphere simulator WaitForUpdatesEx and control API validation", () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab(
      scenario([vmSpec("w"), vmSpec("writer"), vmSpec("off", { power: "off", lastShutdown: "power-off" })]),
    );
  });
  after(() => lab.stop());

  it("reports enter, then modify after a change, nothing when idle, and refuses an unknown version", async () => {
    // A session of its own: a PropertyCollector's versions are per session.
    const c = new VimTestClient(lab.sim.sdkUrl);
    assert.ok((await login(c)).ok);
    const vm = await lab.vm("w");
    const [filter] = await c.ok(
      "CreateFilter",
      PC,
      `<spec><propSet><type>VirtualMachine</type><pathSet>runtime.powerState</pathSet></propSet><objectSet>${refXml("obj", vm)}</objectSet></spec><partialUpdates>false</partialUpdates>`,
    );
    const wait = (version: string) =>
      c.call(
        "WaitForUpdatesEx",
        PC,
        `<version>${version}</version><options><maxWaitSeconds>0</maxWaitSeconds></options>`,
      );
    const first = await wait("");
    assert.ok(first.ok);
    const set = kid(first.body, "returnval");
    assert.equal(textAt(set, "filterSet", "objectSet", "kind"), "enter");
    assert.equal(textAt(set, "filterSet", "objectSet", "changeSet", "val"), "poweredOn");
    const v1 = textAt(set, "version")!;
    const idle = await wait(v1);
    assert.ok(idle.ok);
    assert.equal(kid(idle.body, "returnval"), undefined);
    await runTask(lab, "PowerOffVM_Task", vm);
    const changed = await wait(v1);
    assert.ok(changed.ok);
    const upd = kid(kid(changed.body, "returnval"), "filterSet", "objectSet");
    assert.equal(textAt(upd, "kind"), "modify");
    assert.equal(textAt(upd, "changeSet", "op"), "assign");
    assert.equal(xsiType(kid(upd, "changeSet", "val")!), "VirtualMachinePowerState");
    assert.equal(textAt(upd, "changeSet", "val"), "poweredOff");
    const stale = await wait("12345");
    assert.ok(!stale.ok);
    assert.equal(stale.faultType, "InvalidCollectorVersion");
    await c.ok("DestroyPropertyFilter", ref(filter));
  });

  const bad: [string, string, unknown, number, RegExp][] = [
    [
      "a write to a powered-off VM",
      "/vms/off/write",
      { disk: 2000, offset: 0, length: 512, seed: 1 },
      409,
      /only a running guest writes/,
    ],
    [
      "a write that is not whole sectors",
      "/vms/writer/write",
      { disk: 2000, offset: 100, length: 512, seed: 1 },
      400,
      /512-byte sectors/,
    ],
    [
      "a write past the disk end",
      "/vms/writer/write",
      { disk: 2000, offset: 4 * 1024 * 1024, length: 512, seed: 1 },
      400,
      /past the disk end/,
    ],
    [
      "a write to a missing disk",
      "/vms/writer/write",
      { disk: 7, offset: 0, length: 512 },
      404,
      /has no disk 7/,
    ],
    ["a missing VM", "/vms/nope/tools", { state: "running" }, 404, /no VM named/],
    ["an invalid body", "/vms/w/tools", { state: "sleepy" }, 400, /state/],
    ["an unknown fault rule", "/faults", { kind: "meteor" }, 400, /kind/],
    ["an unknown route", "/nothing", {}, 404, /no control route/],
  ];
  for (const [why, path, body, status, message] of bad) {
    it(`answers ${status} to ${why}`, async () => {
      const r = await lab.control("POST", path, body);
      assert.equal(r.status, status);
      assert.match((r.json as { error: string }).error, message);
    });
  }
});
