import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { kid, ref, textAt, xsiType } from "../../support/vim-soap-client.js";
import { findNode, runTask, scenario, snapshotArgs, startLab, vmSpec, type Lab } from "./helpers.js";

const LINUX = { id: "ubuntu64Guest", fullName: "Ubuntu Linux (64-bit)" };

describe("vSphere simulator snapshots and consistency", () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab(
      scenario([
        vmSpec("win-running"),
        vmSpec("linux-running", { guest: LINUX, toolsVersionStatus: "guestToolsUnmanaged" }),
        vmSpec("win-tools-stopped", { tools: "not-running" }),
        vmSpec("no-tools", { tools: "not-installed", guest: LINUX }),
        vmSpec("off-clean", { power: "off", lastShutdown: "guest-shutdown" }),
        vmSpec("suspended", { power: "suspended" }),
        vmSpec("flaky-vss"),
        vmSpec("stuck-removal"),
        vmSpec("needs-consolidation"),
        vmSpec("slow"),
      ]),
    );
  });
  after(() => lab.stop());

  async function snapshot(vmName: string, quiesce: boolean, name = "snapvisor-backup-job1") {
    const vm = await lab.vm(vmName);
    const info = await runTask(lab, "CreateSnapshot_Task", vm, snapshotArgs(name, quiesce));
    return { vm, info, node: findNode(await lab.prop(vm, "snapshot"), name) };
  }

  const cases = [
    {
      vm: "win-running",
      quiesced: "true",
      manifest: true,
      state: "poweredOff",
      why: "Windows with Tools running: VSS quiesce with a backup manifest",
    },
    {
      vm: "linux-running",
      quiesced: "true",
      manifest: false,
      state: "poweredOff",
      why: "Linux with Tools running: file-system quiesce, no manifest",
    },
    {
      vm: "win-tools-stopped",
      quiesced: "false",
      manifest: false,
      state: "poweredOff",
      why: "Tools not running: quiesce flag ignored",
    },
    {
      vm: "no-tools",
      quiesced: "false",
      manifest: false,
      state: "poweredOff",
      why: "no Tools: quiesce flag ignored",
    },
    {
      vm: "off-clean",
      quiesced: "false",
      manifest: false,
      state: "poweredOff",
      why: "powered off: quiesce flag ignored",
    },
    {
      vm: "suspended",
      quiesced: "false",
      manifest: false,
      state: "suspended",
      why: "suspended: quiesce flag ignored",
    },
  ];
  for (const c of cases) {
    it(`CreateSnapshot_Task(quiesce=true) on ${c.vm}: ${c.why}`, async () => {
      const { info, node } = await snapshot(c.vm, true);
      assert.equal(textAt(info, "state"), "success");
      assert.equal(xsiType(kid(info, "result")!), "ManagedObjectReference");
      assert.ok(node, "the tree has the new node");
      assert.equal(textAt(node, "quiesced"), c.quiesced);
      assert.equal(kid(node, "backupManifest") !== undefined, c.manifest);
      assert.equal(textAt(node, "state"), c.state);
      assert.deepEqual(ref(kid(node, "snapshot")), ref(kid(info, "result")));
    });
  }

  it("fails a quiesced snapshot N times by rule, then succeeds, leaving no snapshot behind", async () => {
    await lab.control("POST", "/faults", { kind: "quiesce-failure", vm: "flaky-vss", times: 2 });
    for (let i = 0; i < 2; i++) {
      const { info, node } = await snapshot("flaky-vss", true, `try-${i}`);
      assert.equal(textAt(info, "state"), "error");
      assert.equal(xsiType(kid(info, "error", "fault")!), "ApplicationQuiesceFault");
      assert.match(textAt(info, "error", "localizedMessage") ?? "", /quiescing/);
      assert.equal(node, undefined);
    }
    const { info, node } = await snapshot("flaky-vss", true, "try-3");
    assert.equal(textAt(info, "state"), "success");
    assert.equal(textAt(node, "quiesced"), "true");
  });

  it("does not fail an unquiesced snapshot under a quiesce-failure rule", async () => {
    await lab.control("POST", "/faults", { kind: "quiesce-failure", vm: "linux-running" });
    const { info, node } = await snapshot("linux-running", false, "crash-only");
    assert.equal(textAt(info, "state"), "success");
    assert.equal(textAt(node, "quiesced"), "false");
    const q = await snapshot("linux-running", true, "fs");
    assert.equal(xsiType(kid(q.info, "error", "fault")!), "FilesystemQuiesceFault");
    await lab.control("DELETE", "/faults");
  });

  it("RemoveSnapshot_Task fails by rule with the snapshot still there, then removes it", async () => {
    const { vm, info } = await snapshot("stuck-removal", false, "snapvisor-backup-x");
    const snap = ref(kid(info, "result"));
    await lab.control("POST", "/faults", { kind: "snapshot-removal-failure", vm: "stuck-removal", times: 1 });
    const failed = await runTask(
      lab,
      "RemoveSnapshot_Task",
      snap,
      "<removeChildren>false</removeChildren><consolidate>true</consolidate>",
    );
    assert.equal(textAt(failed, "state"), "error");
    assert.equal(xsiType(kid(failed, "error", "fault")!), "GenericVmConfigFault");
    assert.ok(findNode(await lab.prop(vm, "snapshot"), "snapvisor-backup-x"));
    const ok = await runTask(
      lab,
      "RemoveSnapshot_Task",
      snap,
      "<removeChildren>false</removeChildren><consolidate>true</consolidate>",
    );
    assert.equal(textAt(ok, "state"), "success");
    assert.equal(await lab.prop(vm, "snapshot"), undefined, "snapshot is unset once the last one goes");
    assert.equal((await lab.prop(vm, "runtime.consolidationNeeded"))?.text, "false");
  });

  it("leaves consolidationNeeded after a removal by rule until ConsolidateVMDisks_Task", async () => {
    const { vm, info } = await snapshot("needs-consolidation", false, "snapvisor-backup-y");
    await lab.control("POST", "/faults", {
      kind: "consolidation-needed",
      vm: "needs-consolidation",
      times: 1,
    });
    const removed = await runTask(
      lab,
      "RemoveSnapshot_Task",
      ref(kid(info, "result")),
      "<removeChildren>false</removeChildren>",
    );
    assert.equal(textAt(removed, "state"), "success");
    assert.equal(await lab.prop(vm, "snapshot"), undefined);
    assert.equal((await lab.prop(vm, "runtime.consolidationNeeded"))?.text, "true");
    const file = await lab.prop(vm, "config.hardware.device");
    assert.match(
      JSON.stringify(file),
      /needs-consolidation-000001\.vmdk/,
      "the VM still runs on the orphaned redo log",
    );
    const c = await runTask(lab, "ConsolidateVMDisks_Task", vm);
    assert.equal(textAt(c, "state"), "success");
    assert.equal((await lab.prop(vm, "runtime.consolidationNeeded"))?.text, "false");
    assert.doesNotMatch(JSON.stringify(await lab.prop(vm, "config.hardware.device")), /-000001\.vmdk/);
  });

  it("keeps a held task running (TaskInProgress for a second one) until released", async () => {
    const vm = await lab.vm("slow");
    await lab.control("POST", "/faults", {
      kind: "slow-task",
      method: "CreateSnapshot_Task",
      vm: "slow",
      hold: true,
      times: 1,
    });
    const [t1] = await lab.client.ok("CreateSnapshot_Task", vm, snapshotArgs("held", false));
    // Let the task start, then observe it running.
    let state = "";
    while (state !== "running") state = textAt(await lab.prop(ref(t1), "info"), "state") ?? "";
    const second = await runTask(lab, "CreateSnapshot_Task", vm, snapshotArgs("second", false));
    assert.equal(xsiType(kid(second, "error", "fault")!), "TaskInProgress");
    assert.equal((await lab.control("POST", "/tasks/release")).status, 200);
    const done = await lab.waitTask(ref(t1));
    assert.equal(textAt(done, "state"), "success");
    assert.ok(kid(done, "startTime") && kid(done, "completeTime"));
  });

  it("CancelTask cancels a waiting snapshot (RequestCanceled, no snapshot), faults on finished or uncancelable tasks", async () => {
    const vm = await lab.vm("slow");
    await lab.control("POST", "/faults", {
      kind: "slow-task",
      method: "CreateSnapshot_Task",
      vm: "slow",
      hold: true,
      times: 1,
    });
    const [t] = await lab.client.ok("CreateSnapshot_Task", vm, snapshotArgs("to-cancel", false));
    assert.ok((await lab.client.call("CancelTask", ref(t))).ok);
    const info = await lab.waitTask(ref(t));
    assert.equal(textAt(info, "state"), "error");
    assert.equal(textAt(info, "cancelled"), "true");
    assert.equal(xsiType(kid(info, "error", "fault")!), "RequestCanceled");
    await lab.control("POST", "/tasks/release");
    assert.equal(findNode(await lab.prop(vm, "snapshot"), "to-cancel"), undefined);
    const again = await lab.client.call("CancelTask", ref(t));
    assert.ok(!again.ok);
    assert.equal(again.faultType, "InvalidState");
    await lab.control("POST", "/faults", {
      kind: "slow-task",
      method: "PowerOffVM_Task",
      vm: "slow",
      hold: true,
      times: 1,
    });
    const [p] = await lab.client.ok("PowerOffVM_Task", vm);
    const refused = await lab.client.call("CancelTask", ref(p));
    assert.ok(!refused.ok);
    assert.equal(refused.faultType, "NotSupported");
    await lab.control("POST", "/tasks/release");
    assert.equal(textAt(await lab.waitTask(ref(p)), "state"), "success");
  });
});
