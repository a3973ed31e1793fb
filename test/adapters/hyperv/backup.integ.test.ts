import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { BackupSnapshot, PreviousDiskState, VmInfo } from "../../../src/domain/hypervisor.js";
import type { HypervSession } from "../../../adapters/hyperv/index.js";
import { TRANSPORTS, frozenFile, ourCheckpoints, readAll, startLab, type Lab } from "./harness.js";

const MiB = 2 ** 20;

for (const kind of TRANSPORTS) {
  describe(`backup through the ${kind} transport`, () => {
    let lab: Lab;
    let session: HypervSession;
    before(async () => {
      lab = await startLab();
      session = lab.session(kind);
    });
    after(async () => lab.close());

    async function vm(name: string): Promise<VmInfo> {
      const found = (await session.inventory()).find((v) => v.name === name);
      assert.ok(found, `VM ${name} in inventory`);
      return found;
    }

    /** One backup run: returns the restored image of each disk (previous image + changed areas). */
    async function run(
      v: VmInfo,
      jobId: string,
      keys: readonly string[],
      previous: Map<string, { image: Uint8Array; state: PreviousDiskState }>,
    ): Promise<{ snapshot: BackupSnapshot; images: Map<string, Uint8Array>; kinds: Map<string, string> }> {
      assert.deepEqual(await session.removeLeftovers(v), []);
      const snapshot = await session.createSnapshot(v, {
        jobId,
        expected: "application",
        policy: "prefer-application",
        quiesceAttempts: 1,
      });
      assert.equal(snapshot.achieved, "application");
      const images = new Map<string, Uint8Array>();
      const kinds = new Map<string, string>();
      try {
        for (const key of keys) {
          const disk = snapshot.disks.find((d) => d.key === key);
          assert.ok(disk, `disk ${key} in the snapshot`);
          const prev = previous.get(key);
          const areas = await session.changedAreas(v, snapshot, disk, prev?.state);
          kinds.set(key, areas.kind);
          const source = await session.openDisk(v, snapshot, key);
          try {
            let image: Uint8Array;
            if (areas.kind === "incremental" && prev) {
              image = prev.image.slice();
              for (const e of areas.extents) {
                const buf = new Uint8Array(e.length);
                await source.read(buf, e.start);
                image.set(buf, e.start);
              }
            } else image = await readAll(source);
            images.set(key, image);
          } finally {
            await source.close();
          }
        }
        // The simulator's disks as they were at checkpoint time (before the merge at commit).
        for (const key of keys) {
          const d = v.disks.find((x) => x.key === key);
          assert.ok(d);
          const base = lab.sim.model.diskOfFile(d.path)?.basePath ?? d.path;
          const expected = await lab.sim.control.readDisk(
            frozenFile(lab.sim, snapshot.name, base),
            0,
            d.capacity,
          );
          assert.ok(
            Buffer.from(images.get(key) ?? []).equals(Buffer.from(expected)),
            `disk ${key} restored byte for byte`,
          );
        }
        await session.commitSnapshot(v, snapshot);
      } finally {
        await session.removeSnapshot(v, snapshot);
      }
      return { snapshot, images, kinds };
    }

    function nextPrevious(
      r: Awaited<ReturnType<typeof run>>,
    ): Map<string, { image: Uint8Array; state: PreviousDiskState }> {
      const out = new Map<string, { image: Uint8Array; state: PreviousDiskState }>();
      for (const d of r.snapshot.disks) {
        const image = r.images.get(d.key);
        if (image && d.changeId)
          out.set(d.key, { image, state: { changeId: d.changeId, capacity: d.capacity } });
      }
      return out;
    }

    it("takes a full then an incremental backup of a VM whose restored disks equal the checkpoints byte for byte", async () => {
      const v = await vm("sql-01");
      const first = await run(v, `${kind}-sql-1`, ["scsi0:0", "scsi0:1"], new Map());
      assert.deepEqual([...first.kinds.values()], ["full", "full"]);
      // Guest writes between runs: one across an RCT page boundary (8 MiB), one on the second disk.
      await lab.sim.control.writePattern("sql-01", 0, 8 * MiB - 3000, 70000, 41);
      await lab.sim.control.writePattern("sql-01", 1, 15 * MiB, 4096, 42);
      const second = await run(v, `${kind}-sql-2`, ["scsi0:0", "scsi0:1"], nextPrevious(first));
      assert.deepEqual([...second.kinds.values()], ["incremental", "incremental"]);
      assert.deepEqual(ourCheckpoints(lab.sim), []);
    });

    it("backs up a shared VHDX once through a collection checkpoint, full then incremental", async () => {
      const v = await vm("gc-node-a");
      const shared = v.disks.find((d) => d.shared);
      assert.ok(shared);
      const first = await run(v, `${kind}-gc-1`, [shared.key], new Map());
      assert.equal(first.kinds.get(shared.key), "full");
      await lab.sim.control.writePattern("gc-node-b", 1, 20 * MiB, 12345, 51);
      const second = await run(v, `${kind}-gc-2`, [shared.key], nextPrevious(first));
      assert.equal(second.kinds.get(shared.key), "incremental");
      assert.deepEqual(ourCheckpoints(lab.sim), []);
    });

    it("reads a disk through a user checkpoint chain (VHDX <- AVHDX <- our checkpoint)", async () => {
      await lab.sim.control.writePattern("chk-14", 0, 2 * MiB, 2 * MiB, 32);
      const v = await vm("chk-14");
      assert.deepEqual(v.snapshots, ["before-upgrade"]);
      assert.match(v.disks[0]?.path ?? "", /\.avhdx$/);
      const first = await run(v, `${kind}-chk-1`, ["scsi0:0"], new Map());
      assert.equal(first.kinds.get("scsi0:0"), "full");
      await lab.sim.control.writePattern("chk-14", 0, 7 * MiB, 5000, 33);
      const second = await run(v, `${kind}-chk-2`, ["scsi0:0"], nextPrevious(first));
      assert.equal(second.kinds.get("scsi0:0"), "incremental");
    });

    it("lists the shared disk on every VM that attaches it, and refuses a VHD Set clearly", async () => {
      const all = await session.inventory();
      const users = all.filter((x) => x.disks.some((d) => d.shared && d.path.endsWith("shared-data.vhdx")));
      assert.deepEqual(users.map((u) => u.name).sort(), ["gc-node-a", "gc-node-b"]);
      const fs = all.find((x) => x.name === "fs-13");
      assert.ok(fs);
      const snapshot = await session.createSnapshot(fs, {
        jobId: `${kind}-fs`,
        expected: "crash",
        policy: "crash-only",
        quiesceAttempts: 0,
      });
      try {
        await assert.rejects(
          session.openDisk(fs, snapshot, "scsi0:1"),
          (err: Error & { code?: string }) =>
            err.code === "HYPERV_VHDS_UNSUPPORTED" && /VHD Set/.test(err.message),
        );
      } finally {
        await session.removeSnapshot(fs, snapshot);
      }
      assert.deepEqual(ourCheckpoints(lab.sim), []);
    });
  });
}
