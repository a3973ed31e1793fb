/** Snapshots against a scripted vCenter: quiesce retries and policies, consolidation, clean-up. */
import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { isSnapvisorError } from "../../../src/domain/errors.js";
import { SNAPSHOT_PREFIX } from "../../../src/domain/hypervisor.js";
import { arg } from "./helpers/replay-server.js";
import { GiB, model, ScriptedVcenter, UUID, vm } from "./helpers/scripted-vcenter.js";

const ctx = new ScriptedVcenter();
afterEach(() => ctx.close());

describe("snapshots against a scripted vCenter", () => {
  test("the client sends SOAPAction urn:vim25/6.5, the session cookie, and trusts a configured CA file", async () => {
    const m = model();
    const s = await ctx.open(m.handler);
    await s.removeLeftovers(vm());
    const call = ctx.calls("RetrievePropertiesEx")[0];
    assert.equal(call?.soapAction, '"urn:vim25/6.5"');
    assert.match(call?.cookie ?? "", /vmware_soap_session="session-1"/);
  });

  test("createSnapshot() asks memory=false and quiesce=true, and reads application consistency from the VSS manifest", async () => {
    const m = model({ manifest: true });
    const s = await ctx.open(m.handler);
    const snap = await s.createSnapshot(vm(), {
      jobId: "j1",
      expected: "application",
      policy: "require-application",
      quiesceAttempts: 3,
    });
    assert.equal(snap.achieved, "application");
    assert.equal(snap.reason, "");
    assert.deepEqual(snap.disks, [{ key: "2000", capacity: 3 * GiB, changeId: `${UUID}/42` }]);
    const req = ctx.calls("CreateSnapshot_Task")[0]?.args;
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
    const s = await ctx.open(m.handler);
    const snap = await s.createSnapshot(vm(), {
      jobId: "j2",
      expected: "application",
      policy: "prefer-application",
      quiesceAttempts: 3,
    });
    assert.equal(snap.achieved, "crash");
    assert.match(snap.reason, /quiesce failed 3 time\(s\).*quiescing.*crash-consistent/);
    assert.deepEqual(
      ctx.calls("CreateSnapshot_Task").map((c) => arg(c.args, "quiesce")),
      ["true", "true", "true", "false"],
    );
    assert.deepEqual(ctx.sleeps.filter((ms) => ms === 5000).length, 2);
  });

  test("require-application fails with VSPHERE_QUIESCE_FAILED after N quiesce faults and takes no crash snapshot", async () => {
    const m = model({ quiesceFailures: 5 });
    const s = await ctx.open(m.handler);
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
    assert.equal(ctx.calls("CreateSnapshot_Task").length, 2);
    assert.equal(m.nodes.length, 0);
  });

  test("a TaskInProgress fault is retried with backoff and the call then succeeds", async () => {
    const m = model({ taskInProgress: 2 });
    const s = await ctx.open(m.handler);
    const snap = await s.createSnapshot(vm({ guestOs: "linux" }), {
      jobId: "j4",
      expected: "crash",
      policy: "crash-only",
      quiesceAttempts: 1,
    });
    assert.equal(snap.achieved, "crash");
    assert.equal(ctx.calls("CreateSnapshot_Task").length, 3);
    assert.deepEqual(ctx.sleeps.slice(0, 2), [500, 1000]);
  });

  test("removeSnapshot() keeps children, then consolidates when vSphere says consolidationNeeded", async () => {
    const m = model({ consolidation: "needed" });
    const s = await ctx.open(m.handler);
    const snap = await s.createSnapshot(vm(), {
      jobId: "j5",
      expected: "crash",
      policy: "crash-only",
      quiesceAttempts: 1,
    });
    await s.removeSnapshot(vm(), snap);
    assert.deepEqual(
      ctx.calls("RemoveSnapshot_Task")[0]?.args.children.map((c) => [c.name, c.text]),
      [
        ["_this", snap.ref],
        ["removeChildren", "false"],
        ["consolidate", "true"],
      ],
    );
    assert.equal(ctx.calls("ConsolidateVMDisks_Task").length, 1);
    assert.equal(m.isConsolidationNeeded(), false);
  });

  test("a snapshot that cannot be read back is removed at once, and the error names it", async () => {
    const m = model({ hideTree: true });
    const s = await ctx.open(m.handler);
    await assert.rejects(
      s.createSnapshot(vm(), { jobId: "j8", expected: "crash", policy: "crash-only", quiesceAttempts: 1 }),
      (e) => isSnapvisorError(e, "VSPHERE_BAD_ANSWER") && /missing from its snapshot tree/.test(e.message),
    );
    assert.equal(ctx.calls("RemoveSnapshot_Task").length, 1);
    assert.equal(m.nodes.length, 0);
  });

  test("when CBT cannot be enabled the snapshot is still taken (full reads follow) with a warning", async () => {
    const m = model();
    const s = await ctx.open(m.handler);
    const noCbt = vm({ disks: vm().disks.map((d) => ({ ...d, changeTracking: false })) });
    const snap = await s.createSnapshot(noCbt, {
      jobId: "j9",
      expected: "crash",
      policy: "crash-only",
      quiesceAttempts: 1,
    });
    assert.equal(ctx.calls("ReconfigVM_Task").length, 1);
    assert.equal(snap.name, `${SNAPSHOT_PREFIX}j9`);
  });

  test("a failed consolidation ends in VSPHERE_CONSOLIDATION_FAILED naming the VM", async () => {
    const m = model({ consolidation: "fails" });
    const s = await ctx.open(m.handler);
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
