import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ScenarioInput } from "../../../simulators/hyperv/scenario.js";
import { patternBytes } from "../../../simulators/hyperv/index.js";
import { HOSTILE_NAMES } from "./hostile.js";
import { TRANSPORTS, ourCheckpoints, readAll, startLab, type Lab } from "./harness.js";

const DIR = "C:\\VMs\\it's $(x) & ;`tick ünï";

function scenario(): ScenarioInput {
  return {
    nodes: [{ name: "HV01" }],
    vms: HOSTILE_NAMES.map((name, i) => ({
      name,
      id: `00000000-0000-4000-8000-${String(i + 1).padStart(12, "0")}`,
      node: "HV01",
      state: i % 2 === 0 ? "Running" : "Off",
      disks: [{ path: `${DIR}\\vm${i} $(Get-Date).vhdx`, size: "4MiB" }],
      writes: [{ disk: 0, offset: 0, length: "64KiB", seed: i + 1 }],
      events: i % 2 === 0 ? [] : [{ id: 18508, time: "2026-11-20T10:00:00Z" }],
    })),
  };
}

for (const kind of TRANSPORTS) {
  describe(`hostile names through the ${kind} transport`, () => {
    let lab: Lab;
    before(async () => {
      lab = await startLab(scenario());
    });
    after(async () => lab.close());

    it("reports VM names and disk paths exactly as data", async () => {
      const vms = await lab.session(kind).inventory();
      assert.deepEqual(vms.map((v) => v.name).sort(), [...HOSTILE_NAMES].sort());
      for (const v of vms) {
        assert.ok(v.disks[0]?.path.startsWith(DIR), v.disks[0]?.path);
        if (v.power === "off") assert.equal(v.lastShutdown, "clean");
      }
    });

    it("checkpoints, reads and cleans up a VM with a hostile name and job id", async () => {
      const session = lab.session(kind);
      const v = (await session.inventory()).find((x) => x.name === HOSTILE_NAMES[0]);
      assert.ok(v);
      const jobId = `${kind}-<&'"> $(x)`;
      const s = await session.createSnapshot(v, {
        jobId,
        expected: "application",
        policy: "prefer-application",
        quiesceAttempts: 1,
      });
      try {
        assert.equal(s.name, `snapvisor-backup-${jobId}`);
        assert.deepEqual(ourCheckpoints(lab.sim), [s.name]);
        const d = s.disks[0];
        assert.ok(d);
        const source = await session.openDisk(v, s, d.key);
        const image = await readAll(source);
        await source.close();
        assert.equal(image.length, 4 * 2 ** 20);
        assert.deepEqual(image.subarray(0, 65536), patternBytes(1, 0, 65536));
        await session.commitSnapshot(v, s);
      } finally {
        await session.removeSnapshot(v, s);
      }
      assert.deepEqual(ourCheckpoints(lab.sim), []);
      assert.equal(lab.sim.model.referencePoints[0]?.name, `snapvisor-backup-${jobId}`);
    });
  });
}
