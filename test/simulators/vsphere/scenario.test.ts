import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isSnapvisorError } from "../../../src/domain/errors.js";
import { loadScenarioFile, parseScenario } from "../../../simulators/vsphere/scenario.js";
import { scenario, vmSpec } from "./helpers.js";

describe("vSphere simulator scenarios", () => {
  it("loads the example lab covering the consistency table", async () => {
    const s = await loadScenarioFile("fixtures/scenarios/vsphere-lab.yaml");
    const vms = s.datacenters.flatMap((d) => d.vms);
    const kinds = new Set(vms.map((v) => `${v.tools}/${v.power}/${v.lastShutdown ?? "-"}`));
    for (const k of [
      "running/on/-",
      "not-running/on/-",
      "not-installed/on/-",
      "running/off/guest-shutdown",
      "running/off/crash",
      "running/suspended/-",
    ]) {
      assert.ok(kinds.has(k), k);
    }
    assert.equal(vms[0]!.disks[0]!.capacity, 64 * 1024 * 1024);
  });

  const bad: [string, unknown, RegExp][] = [
    ["an unknown host", scenario([vmSpec("a", { host: "nowhere" })]), /unknown host "nowhere"/],
    [
      "an unknown datastore",
      scenario([vmSpec("a", { disks: [{ capacity: "1MiB", datastore: "x" }] })]),
      /unknown datastore "x"/,
    ],
    [
      "a capacity that is not whole sectors",
      scenario([vmSpec("a", { disks: [{ capacity: 1000, datastore: "ds1" }] })]),
      /multiple of 512/,
    ],
    [
      "a bad size string",
      scenario([vmSpec("a", { disks: [{ capacity: "12 parsecs", datastore: "ds1" }] })]),
      /not a size/,
    ],
    [
      "data past the disk end",
      scenario([
        vmSpec("a", {
          disks: [{ capacity: "1MiB", datastore: "ds1", data: [{ offset: "1MiB", length: 512 }] }],
        }),
      ]),
      /past the disk end/,
    ],
    ["duplicate VM names", scenario([vmSpec("a"), vmSpec("a")]), /duplicate VM name "a"/],
    [
      "lastShutdown on a running VM",
      scenario([vmSpec("a", { lastShutdown: "crash" })]),
      /only applies to powered-off/,
    ],
  ];
  for (const [why, input, message] of bad) {
    it(`rejects ${why} with VSIM_SCENARIO_INVALID`, () => {
      assert.throws(
        () => parseScenario(input, "test.yaml"),
        (e: unknown) =>
          isSnapvisorError(e, "VSIM_SCENARIO_INVALID") &&
          message.test(e.message) &&
          e.message.includes("test.yaml"),
      );
    });
  }

  it("reports an unreadable file with VSIM_SCENARIO_UNREADABLE and bad YAML with VSIM_SCENARIO_INVALID", async () => {
    await assert.rejects(loadScenarioFile("/nonexistent/lab.yaml"), (e: unknown) =>
      isSnapvisorError(e, "VSIM_SCENARIO_UNREADABLE"),
    );
    await assert.rejects(loadScenarioFile("package.json"), (e: unknown) =>
      isSnapvisorError(e, "VSIM_SCENARIO_INVALID"),
    );
  });
});
