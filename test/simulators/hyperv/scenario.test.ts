import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { loadScenario, parseScenario } from "../../../simulators/hyperv/scenario.js";

describe("Hyper-V scenarios", () => {
  it("loads the lab scenario", async () => {
    const s = await loadScenario("fixtures/scenarios/hyperv-lab.yaml");
    assert.equal(s.cluster?.name, "HVCLU01");
    assert.equal(s.nodes.length, 2);
    assert.ok(s.vms.some((v) => v.disks.some((d) => d.shared)));
  });

  it("rejects a VM on an unknown node and a duplicate id, naming the paths", () => {
    assert.throws(
      () =>
        parseScenario({
          nodes: [{ name: "HV01" }],
          vms: [
            { name: "a", id: "00000000-0000-4000-8000-000000000001", node: "HV09", state: "Running" },
            { name: "b", id: "00000000-0000-4000-8000-000000000001", node: "HV01", state: "Running" },
          ],
        }),
      /vms\.0\.node: unknown node "HV09".*vms\.1\.id: duplicate VM id/,
    );
  });

  it("rejects unknown fault kinds and relative disk paths", () => {
    assert.throws(() => parseScenario({ nodes: [{ name: "n" }], faults: [{ kind: "meteor" }] }), /faults\.0/);
    assert.throws(
      () =>
        parseScenario({
          nodes: [{ name: "n" }],
          vms: [
            {
              name: "a",
              id: "00000000-0000-4000-8000-000000000001",
              node: "n",
              state: "Off",
              disks: [{ path: "disk.vhdx" }],
            },
          ],
        }),
      /absolute Windows path/,
    );
  });
});
