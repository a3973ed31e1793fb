import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { runBackupCycle } from "../../src/controller/backup-cycle.js";
import type { ConfigInput } from "../../src/controller/config-schema.js";
import { MemoryStorage } from "../../src/repository/memory-storage.js";
import { Repository } from "../../src/repository/repository.js";
import { repositoryWriter } from "../../src/repository/repository-writer.js";
import { ourCheckpoints, startLab, type Lab } from "../adapters/hyperv/harness.js";
import { config } from "./builders.js";

const V1 = "C:\\ClusterStorage\\Volume1";
const V2 = "C:\\ClusterStorage\\Volume2";

/** 12 running VMs with Integration Services on a two-node cluster, six on each CSV. */
const scenario = {
  cluster: { name: "LIMITS" },
  nodes: [{ name: "HV01" }, { name: "HV02" }],
  volumes: [
    { name: "Cluster Disk 1", path: V1, owner: "HV01" },
    { name: "Cluster Disk 2", path: V2, owner: "HV02" },
  ],
  vms: Array.from({ length: 12 }, (_, i) => ({
    name: `vm-${String(i).padStart(2, "0")}`,
    id: `00000000-0000-4000-8000-${String(i + 1).padStart(12, "0")}`,
    node: i % 2 ? "HV02" : "HV01",
    state: "Running" as const,
    clustered: true,
    disks: [{ path: `${i % 3 ? V1 : V2}\\vm-${i}\\os.vhdx`, size: "4MiB" }],
    writes: [{ offset: 0, length: "256KiB", seed: i + 1 }],
  })),
};

describe("the backup job's limits, counted by the Hyper-V simulator", () => {
  let lab: Lab;
  let repo: Repository;
  let runs = 0;
  before(async () => {
    lab = await startLab(scenario);
    repo = await Repository.init(new MemoryStorage(), { chunkSize: 64 * 1024 });
  });
  after(async () => lab.close());

  /** One backup cycle of all 12 VMs under `limits`; returns the simulator's most-at-once counts. */
  async function cycle(limits: ConfigInput["limits"]) {
    lab.sim.control.resetCheckpointCounts();
    const { summary } = await runBackupCycle({
      config: config([{ name: "all", source: "c1", vms: [{ pattern: "vm-*" }] }], limits),
      sessions: new Map([["c1", lab.session("local")]]),
      repository: repositoryWriter(repo),
      clock: { now: () => new Date("2026-11-22T03:00:00Z") },
      jobId: `limits-${++runs}`,
    });
    assert.equal(summary.exitCode, 0, JSON.stringify(summary.outcomes.map((o) => o.messages)));
    assert.equal(summary.outcomes.filter((o) => o.point).length, 12);
    assert.deepEqual(ourCheckpoints(lab.sim), [], "every checkpoint removed");
    const state = lab.sim.control.state() as { openCheckpoints: unknown };
    assert.deepEqual(state.openCheckpoints, { perCsv: {}, perHost: {} });
    return {
      perCsv: Object.fromEntries(lab.sim.model.maxOpenCheckpoints.perCsv),
      perHost: Object.fromEntries(lab.sim.model.maxOpenCheckpoints.perHost),
    };
  }

  const wide = { global: 12, perHost: 12, perCsv: 12, openSnapshotsPerDatastore: 12 };

  it("has more than two checkpoints open at once on a CSV when the limits allow it", async () => {
    const max = await cycle(wide);
    // Without a per-CSV limit the job overlaps VMs: the adapter only paces checkpoint *creation*
    // (two at a time per CSV), so the counts below can only come from the controller's limits.
    assert.ok((max.perCsv[V1] ?? 0) > 2, `Volume1 had at most ${max.perCsv[V1]} open at once`);
  });

  // Each knob alone, the other wide: the open-checkpoint slot (1) and the per-CSV read slot (2).
  for (const [knob, limit] of [
    ["openSnapshotsPerDatastore", 1],
    ["perCsv", 2],
  ] as const) {
    it(`never has more than ${limit} checkpoint(s) open per CSV with ${knob}: ${limit}`, async () => {
      const max = await cycle({ ...wide, [knob]: limit });
      assert.deepEqual(max.perCsv, { [V1]: limit, [V2]: limit });
    });
  }

  it("never has more than 1 checkpoint open per node with perHost: 1", async () => {
    const max = await cycle({ ...wide, perHost: 1 });
    assert.deepEqual(max.perHost, { HV01: 1, HV02: 1 });
  });
});
