import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { VmInfo } from "../../../src/domain/hypervisor.js";
import type { HypervSession } from "../../../adapters/hyperv/index.js";
import { TRANSPORTS, ourCheckpoints, startLab, type Lab } from "./harness.js";

function code(c: string) {
  return (err: Error & { code?: string }) => err.code === c;
}

for (const kind of TRANSPORTS) {
  describe(`faults through the ${kind} transport`, () => {
    let lab: Lab;
    let session: HypervSession;
    before(async () => {
      lab = await startLab();
      session = lab.session(kind);
    });
    after(async () => lab.close());
    afterEach(() => {
      lab.sim.control.clearFaults();
      lab.sim.control.setNode("HV02", "Up");
      assert.deepEqual(ourCheckpoints(lab.sim), [], "no checkpoint of ours left behind");
    });

    async function vm(name: string): Promise<VmInfo> {
      const v = (await session.inventory()).find((x) => x.name === name);
      assert.ok(v);
      return v;
    }

    it("falls back to crash-consistent after a VSS failure under prefer-application, and says why", async () => {
      const v = await vm("sql-01");
      lab.sim.control.addFault({ kind: "vss-failure", vm: "sql-01" });
      const s = await session.createSnapshot(v, {
        jobId: `${kind}-vss1`,
        expected: "application",
        policy: "prefer-application",
        quiesceAttempts: 2,
      });
      await session.removeSnapshot(v, s);
      assert.equal(s.achieved, "crash");
      assert.match(s.reason, /failed 2 time\(s\).*0x800423F4/);
    });

    it("fails with HYPERV_QUIESCE_FAILED under require-application, leaving nothing behind", async () => {
      const v = await vm("sql-01");
      lab.sim.control.addFault({ kind: "vss-failure", vm: "sql-01" });
      await assert.rejects(
        session.createSnapshot(v, {
          jobId: `${kind}-vss2`,
          expected: "application",
          policy: "require-application",
          quiesceAttempts: 1,
        }),
        code("HYPERV_QUIESCE_FAILED"),
      );
    });

    it("turns an RCT reset into a full read with the virtdisk code as reason", async () => {
      const v = await vm("sql-01");
      const first = await session.createSnapshot(v, {
        jobId: `${kind}-rct1`,
        expected: "application",
        policy: "prefer-application",
        quiesceAttempts: 1,
      });
      await session.commitSnapshot(v, first);
      await session.removeSnapshot(v, first);
      const disk0 = v.disks[0];
      assert.ok(disk0);
      lab.sim.control.addFault({ kind: "rct-invalid", disk: disk0.path, code: "0xC03A0022", times: 1 });
      const second = await session.createSnapshot(v, {
        jobId: `${kind}-rct2`,
        expected: "application",
        policy: "prefer-application",
        quiesceAttempts: 1,
      });
      try {
        const [d0, d1] = second.disks;
        const [p0, p1] = first.disks;
        assert.ok(d0 && d1 && p0?.changeId && p1?.changeId);
        const a0 = await session.changedAreas(v, second, d0, {
          changeId: p0.changeId,
          capacity: p0.capacity,
        });
        assert.equal(a0.kind, "full");
        assert.match(a0.kind === "full" ? a0.reason : "", /0xC03A0022/);
        const a1 = await session.changedAreas(v, second, d1, {
          changeId: p1.changeId,
          capacity: p1.capacity,
        });
        assert.equal(a1.kind, "incremental");
        const resized = await session.changedAreas(v, second, d1, {
          changeId: p1.changeId,
          capacity: p1.capacity * 2,
        });
        assert.match(resized.kind === "full" ? resized.reason : "", /resized/);
        const gone = await session.changedAreas(v, second, d1, {
          changeId: "rp:snapvisor-backup-nope|X",
          capacity: p1.capacity,
        });
        assert.equal(gone.kind, "full");
      } finally {
        await session.removeSnapshot(v, second);
      }
    });

    it("retries a failed checkpoint merge, then reports HYPERV_CHECKPOINT_MERGE_FAILED; the next sweep removes it", async () => {
      const v = await vm("app-03");
      lab.sim.control.addFault({ kind: "merge-failure", vm: "app-03", times: 1 });
      const ok = await session.createSnapshot(v, {
        jobId: `${kind}-m1`,
        expected: "crash",
        policy: "prefer-application",
        quiesceAttempts: 1,
      });
      await session.removeSnapshot(v, ok);
      lab.sim.control.addFault({ kind: "merge-failure", vm: "app-03" });
      const stuck = await session.createSnapshot(v, {
        jobId: `${kind}-m2`,
        expected: "crash",
        policy: "prefer-application",
        quiesceAttempts: 1,
      });
      await assert.rejects(
        session.removeSnapshot(v, stuck),
        (err: Error & { code?: string }) =>
          err.code === "HYPERV_CHECKPOINT_MERGE_FAILED" && /0x80070020/.test(err.message),
      );
      lab.sim.control.clearFaults();
      assert.deepEqual(await session.removeLeftovers(v), [`snapvisor-backup-${kind}-m2`]);
    });

    it("follows a VM that live-migrates after its checkpoint to commit and clean up on the new owner", async () => {
      const v = await vm("sql-01");
      lab.sim.control.addFault({ kind: "migrate-after-snapshot", vm: "sql-01", to: "HV02", times: 1 });
      const s = await session.createSnapshot(v, {
        jobId: `${kind}-mig`,
        expected: "application",
        policy: "prefer-application",
        quiesceAttempts: 1,
      });
      assert.equal(lab.sim.control.vm("sql-01").node, "HV02");
      await session.commitSnapshot(v, s);
      await session.removeSnapshot(v, s);
      lab.sim.control.migrate("sql-01", "HV01");
    });

    it("reports a down node as an error for its VMs only", async () => {
      lab.sim.control.setNode("HV02", "Down");
      const vms = await session.inventory();
      assert.ok(vms.some((x) => x.name === "sql-01"));
      assert.equal(
        vms.some((x) => x.name === "web-02"),
        false,
      );
      const problem = session.inventoryProblems.find((p) => p.node === "HV02");
      assert.equal(problem?.code, "HYPERV_NODE_DOWN");
      assert.ok(problem?.vms.includes("web-02"));
      const web: VmInfo = {
        ...(vms.find((x) => x.name === "sql-01") as VmInfo),
        id: "6a0f2d4e-1c7b-4d2a-9e41-0c5b8f1a2b02",
        name: "web-02",
        host: "HV02",
      };
      await assert.rejects(
        session.createSnapshot(web, {
          jobId: `${kind}-down`,
          expected: "crash",
          policy: "crash-only",
          quiesceAttempts: 0,
        }),
        code("HYPERV_NODE_DOWN"),
      );
    });

    it("destroys the checkpoint of a CreateSnapshot that finished after the polling budget", async () => {
      const v = await vm("app-03");
      const recovery = () => lab.sim.model.snapshots.filter((s) => s.vmId === v.id && s.type === "Recovery");
      const before = recovery().length;
      const impatient = lab.session(kind, { maxJobPolls: 2 });
      const request = { expected: "crash", policy: "crash-only", quiesceAttempts: 0 } as const;
      // Done within the extra wait: destroyed before the timeout is reported.
      lab.sim.control.addFault({ kind: "slow-job", method: "CreateSnapshot", polls: 3, times: 1 });
      await assert.rejects(
        impatient.createSnapshot(v, { ...request, jobId: `${kind}-late1` }),
        code("HYPERV_JOB_TIMEOUT"),
      );
      assert.equal(recovery().length, before, "no unnamed checkpoint left");
      // Still running after it: the next sweeps of the VM look at the job until it ends.
      lab.sim.control.addFault({ kind: "slow-job", method: "CreateSnapshot", polls: 6, times: 1 });
      await assert.rejects(
        impatient.createSnapshot(v, { ...request, jobId: `${kind}-late2` }),
        code("HYPERV_JOB_TIMEOUT"),
      );
      const swept: string[] = [];
      for (let i = 0; i < 4; i++) swept.push(...(await impatient.removeLeftovers(v)));
      assert.equal(swept.filter((x) => x.startsWith("late checkpoint")).length, 1, swept.join(", "));
      assert.equal(recovery().length, before, "the late checkpoint was destroyed");
    });

    it("waits for slow jobs by polling, and gives up after the polling budget", async () => {
      const v = await vm("app-03");
      lab.sim.control.addFault({ kind: "slow-job", method: "DestroySnapshot", polls: 5, times: 1 });
      const s = await session.createSnapshot(v, {
        jobId: `${kind}-slow`,
        expected: "crash",
        policy: "crash-only",
        quiesceAttempts: 0,
      });
      await session.removeSnapshot(v, s);
      const impatient = lab.session(kind, { maxJobPolls: 2 });
      lab.sim.control.addFault({ kind: "slow-job", method: "ConvertToReferencePoint", polls: 5, times: 1 });
      const t = await impatient.createSnapshot(v, {
        jobId: `${kind}-slow2`,
        expected: "crash",
        policy: "crash-only",
        quiesceAttempts: 0,
      });
      await assert.rejects(impatient.commitSnapshot(v, t), code("HYPERV_JOB_TIMEOUT"));
      // The conversion finishes on the host later; our sweep finds nothing left to remove.
      await session.inventory();
      await session.removeLeftovers(v);
    });

    it("ignores progress noise on stderr", async () => {
      lab.sim.control.addFault({ kind: "stderr-noise" });
      const fresh = lab.session(kind);
      assert.ok((await fresh.inventory()).length > 0);
    });

    it("recycles the shell after a call times out, and the next call works", async () => {
      const s = lab.session(kind, { timeoutMs: 1500 });
      lab.sim.control.addFault({ kind: "hang", command: "Get-Cluster", times: 1 });
      await assert.rejects(s.topology(), code("HYPERV_TIMEOUT"));
      assert.equal((await s.topology()).Cluster, "HVCLU01");
    });
  });
}
