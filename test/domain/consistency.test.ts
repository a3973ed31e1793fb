import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  decideConsistency,
  reconcileConsistency,
  type ConsistencyFacts,
  type SnapshotMethod,
} from "../../src/domain/consistency.js";
import type { ConsistencyPolicy } from "../../src/domain/hypervisor.js";
import type { ConsistencyLevel } from "../../src/domain/ports.js";

function vm(over: Partial<ConsistencyFacts> = {}): ConsistencyFacts {
  return {
    name: "sql-01",
    hypervisor: "vsphere",
    power: "on",
    tools: "running",
    toolsDetail: "toolsRunningStatus is guestToolsRunning",
    lastShutdown: "unknown",
    lastShutdownDetail: "",
    guestOs: "windows",
    ...over,
  };
}

type Row = [
  label: string,
  facts: Partial<ConsistencyFacts>,
  policy: ConsistencyPolicy,
  expected: ConsistencyLevel,
  method: SnapshotMethod,
  reasonIncludes: string,
];

describe("decideConsistency() on the seed's Table 38", () => {
  // tools | powered on | expected, exactly as the seed states it (Windows guests, prefer-application).
  // prettier-ignore
  const table: Row[] = [
    ["not installed, on", { tools: "not-installed", toolsDetail: "toolsStatus is toolsNotInstalled" }, "prefer-application", "crash", "crash-snapshot", "VMware Tools not installed (toolsStatus is toolsNotInstalled)"],
    ["not installed, off dirty", { tools: "not-installed", power: "off", lastShutdown: "dirty" }, "prefer-application", "crash", "offline-copy", "dirty shutdown"],
    ["not installed, off clean", { tools: "not-installed", power: "off", lastShutdown: "clean" }, "prefer-application", "application", "offline-copy", "clean shutdown"],
    ["installed, on", {}, "prefer-application", "application", "quiesced-snapshot", "VSS writers flushed"],
    ["installed, off dirty", { power: "off", lastShutdown: "dirty" }, "prefer-application", "crash", "offline-copy", "dirty shutdown"],
    ["installed, off clean", { power: "off", lastShutdown: "clean" }, "prefer-application", "application", "offline-copy", "clean shutdown"],
  ];
  for (const [label, facts, policy, expected, method, reason] of table) {
    it(`${label} -> ${expected} by ${method}`, () => {
      const d = decideConsistency(vm(facts), policy);
      assert.equal(d.expected, expected);
      assert.equal(d.method, method);
      assert.ok(d.reason.includes(reason), d.reason);
      assert.equal(d.refusal, undefined);
    });
  }
});

describe("decideConsistency() beyond the seed's table (DESIGN.md §1)", () => {
  // prettier-ignore
  const cases: Row[] = [
    ["tools installed but not running is crash", { tools: "not-running", toolsDetail: "toolsRunningStatus is guestToolsNotRunning" }, "prefer-application", "crash", "crash-snapshot", "VMware Tools not running (toolsRunningStatus is guestToolsNotRunning)"],
    ["Hyper-V VSS service unhealthy is crash", { hypervisor: "hyperv", tools: "not-running", toolsDetail: "VSS integration service PrimaryOperationalStatus is Lost Communication" }, "prefer-application", "crash", "crash-snapshot", "Hyper-V Integration Services (VSS) not running (VSS integration service"],
    ["a Linux guest quiesced by tools is filesystem", { guestOs: "linux" }, "prefer-application", "filesystem", "quiesced-snapshot", "Linux guest: file systems frozen"],
    ["another guest OS quiesced by tools is filesystem", { guestOs: "other" }, "prefer-application", "filesystem", "quiesced-snapshot", "non-Windows guest"],
    ["a suspended vSphere VM is crash", { power: "suspended" }, "prefer-application", "crash", "crash-snapshot", "VM is suspended"],
    ["a saved Hyper-V VM is crash", { hypervisor: "hyperv", power: "saved" }, "prefer-application", "crash", "crash-snapshot", "VM is saved"],
    ["a paused Hyper-V VM is crash", { hypervisor: "hyperv", power: "paused" }, "prefer-application", "crash", "crash-snapshot", "VM is paused"],
    ["an unknown shutdown kind counts as dirty", { power: "off", lastShutdown: "unknown", lastShutdownDetail: "no power-off event found" }, "prefer-application", "crash", "offline-copy", "unknown shutdown (counted as dirty) (no power-off event found)"],
    ["crash-only never quiesces a running VM", {}, "crash-only", "crash", "crash-snapshot", "policy crash-only"],
    ["crash-only still records a clean powered-off VM as application", { power: "off", lastShutdown: "clean" }, "crash-only", "application", "offline-copy", "at rest"],
    ["require-application on a running Windows VM with tools", {}, "require-application", "application", "quiesced-snapshot", "VSS"],
    ["require-application on a clean powered-off VM", { power: "off", lastShutdown: "clean" }, "require-application", "application", "offline-copy", "clean"],
  ];
  for (const [label, facts, policy, expected, method, reason] of cases) {
    it(`${label}`, () => {
      const d = decideConsistency(vm(facts), policy);
      assert.equal(d.expected, expected);
      assert.equal(d.method, method);
      assert.ok(d.reason.includes(reason), d.reason);
      if (policy !== "require-application") assert.equal(d.refusal, undefined);
    });
  }

  const refusals: [string, Partial<ConsistencyFacts>, string][] = [
    [
      "tools not running",
      { tools: "not-running", toolsDetail: "toolsRunningStatus is guestToolsNotRunning" },
      "guestToolsNotRunning",
    ],
    ["a Linux guest (filesystem at best)", { guestOs: "linux" }, "Linux guest"],
    ["a dirty powered-off VM", { power: "off", lastShutdown: "dirty" }, "dirty shutdown"],
    ["a suspended VM", { power: "suspended" }, "suspended"],
  ];
  for (const [label, facts, why] of refusals) {
    it(`require-application refuses ${label} before any snapshot`, () => {
      const d = decideConsistency(vm(facts), "require-application");
      const refusal = d.refusal ?? "";
      assert.ok(refusal.startsWith('Cannot back up VM "sql-01" application-consistently'), refusal);
      assert.ok(refusal.includes(why), refusal);
    });
  }
});

describe("reconcileConsistency()", () => {
  const running = decideConsistency(vm(), "prefer-application");

  it("is ok and records the decision's reason when the snapshot reached the expected level", () => {
    const r = reconcileConsistency(running, { achieved: "application", reason: "" }, "prefer-application");
    assert.equal(r.verdict, "ok");
    assert.deepEqual(r.record, { expected: "application", achieved: "application", reason: running.reason });
  });

  it("warns on a downgrade read back after the snapshot under prefer-application", () => {
    const reason = "quiesce failed 3 times (ApplicationQuiesceFault): fell back to a crash snapshot";
    const r = reconcileConsistency(running, { achieved: "crash", reason }, "prefer-application");
    assert.equal(r.verdict, "warning");
    assert.deepEqual(r.record, { expected: "application", achieved: "crash", reason });
    assert.equal(r.message, `expected application, achieved crash: ${reason}`);
  });

  it("fails a downgrade under require-application", () => {
    const d = decideConsistency(vm(), "require-application");
    const r = reconcileConsistency(
      d,
      { achieved: "filesystem", reason: "no backupManifest" },
      "require-application",
    );
    assert.equal(r.verdict, "fail");
    assert.ok(r.message.startsWith("policy require-application not met"), r.message);
  });

  it("names the hypervisor's report when the adapter gives no reason for a downgrade", () => {
    const r = reconcileConsistency(running, { achieved: "crash", reason: "" }, "prefer-application");
    assert.equal(r.record.reason, "the hypervisor reported crash");
  });

  it("records an offline copy at the decided level although no quiesce was asked", () => {
    const off = decideConsistency(vm({ power: "off", lastShutdown: "clean" }), "require-application");
    const r = reconcileConsistency(off, { achieved: "crash", reason: "not quiesced" }, "require-application");
    assert.equal(r.verdict, "ok");
    assert.deepEqual(r.record, { expected: "application", achieved: "application", reason: off.reason });
  });

  it("downgrades an offline copy of a VM found running at snapshot time", () => {
    const off = decideConsistency(vm({ power: "off", lastShutdown: "clean" }), "prefer-application");
    const r = reconcileConsistency(
      off,
      { achieved: "crash", reason: "", powerAtSnapshot: "on" },
      "prefer-application",
    );
    assert.equal(r.verdict, "warning");
    assert.equal(r.record.achieved, "crash");
    assert.ok(r.record.reason.includes("VM was on at snapshot time"));
  });

  it("keeps a crash-only point ok at crash", () => {
    const d = decideConsistency(vm(), "crash-only");
    const r = reconcileConsistency(d, { achieved: "crash", reason: "" }, "crash-only");
    assert.equal(r.verdict, "ok");
    assert.equal(r.record.achieved, "crash");
  });
});
