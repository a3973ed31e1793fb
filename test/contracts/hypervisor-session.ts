/**
 * What the backup job relies on from any `HypervisorSession`, as one suite that the in-memory fake
 * and the adapters (against their simulators) can all run: snapshot naming and hygiene, disk
 * contents frozen at snapshot time, changed areas that never under-report, removal.
 * A lab gives the suite a VM with at least one non-shared disk and a way to act as the guest/user.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SNAPSHOT_PREFIX, type HypervisorSession, type VmInfo } from "../../src/domain/hypervisor.js";
import type { DiskSource, Extent } from "../../src/domain/ports.js";

export interface ContractLab {
  readonly session: HypervisorSession;
  readonly vmName: string;
  /** Writes as the guest would, to the VM's live disk. */
  guestWrite(diskKey: string, offset: number, bytes: Uint8Array): Promise<void>;
  /** Takes a snapshot as a user would (not ours). */
  userSnapshot(name: string): Promise<void>;
  close(): Promise<void>;
}

async function readAt(source: DiskSource, offset: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = await source.read(out.subarray(done), offset + done);
    if (n <= 0) break;
    done += n;
  }
  return out.subarray(0, done);
}

function covers(extents: readonly Extent[], start: number, length: number): boolean {
  // Every byte of [start, start+length) lies in some extent (over-reporting is allowed).
  const sorted = [...extents].sort((a, b) => a.start - b.start);
  let reached = start;
  for (const e of sorted) {
    if (e.start > reached) break;
    reached = Math.max(reached, e.start + e.length);
    if (reached >= start + length) return true;
  }
  return reached >= start + length;
}

export interface ContractOptions {
  /** The lab's VM has working change tracking: an incremental answer is required, not just allowed. */
  readonly changeTracking: boolean;
}

export function hypervisorSessionContract(
  name: string,
  makeLab: () => Promise<ContractLab>,
  options: ContractOptions,
): void {
  describe(`HypervisorSession contract: ${name}`, () => {
    async function withLab(
      fn: (lab: ContractLab, vm: VmInfo, diskKey: string) => Promise<void>,
    ): Promise<void> {
      const lab = await makeLab();
      try {
        const vm = (await lab.session.inventory()).find((v) => v.name === lab.vmName);
        assert.ok(vm, `inventory lists VM "${lab.vmName}"`);
        const disk = vm.disks.find((d) => !d.shared);
        assert.ok(disk, "the VM has a non-shared disk");
        await fn(lab, vm, disk.key);
      } finally {
        await lab.close();
      }
    }

    it("names backup snapshots with the prefix and job id, lists and removes them", async () => {
      await withLab(async (lab, vm) => {
        const s = await lab.session.createSnapshot(vm, {
          jobId: "contract-1",
          expected: "crash",
          policy: "crash-only",
          quiesceAttempts: 1,
        });
        assert.equal(s.name, `${SNAPSHOT_PREFIX}contract-1`);
        assert.equal(s.achieved, "crash");
        assert.deepEqual(
          s.disks.map((d) => [d.key, d.capacity]),
          vm.disks.map((d) => [d.key, d.capacity]),
        );
        const listed = (await lab.session.inventory()).find((v) => v.id === vm.id);
        assert.ok(listed?.snapshots.includes(s.name));
        await lab.session.removeSnapshot(vm, s);
        const after = (await lab.session.inventory()).find((v) => v.id === vm.id);
        assert.ok(!after?.snapshots.includes(s.name));
      });
    });

    it("removes only its own leftovers, never a user's snapshot", async () => {
      await withLab(async (lab, vm) => {
        await lab.userSnapshot("before-upgrade");
        await lab.session.createSnapshot(vm, {
          jobId: "contract-2",
          expected: "crash",
          policy: "crash-only",
          quiesceAttempts: 1,
        });
        const removed = await lab.session.removeLeftovers(vm);
        assert.deepEqual(removed, [`${SNAPSHOT_PREFIX}contract-2`]);
        const after = (await lab.session.inventory()).find((v) => v.id === vm.id);
        assert.deepEqual(after?.snapshots, ["before-upgrade"]);
      });
    });

    it("reads a disk as it was at snapshot time, whatever the guest writes after", async () => {
      await withLab(async (lab, vm, key) => {
        await lab.guestWrite(key, 4096, new Uint8Array(512).fill(0x11));
        const s = await lab.session.createSnapshot(vm, {
          jobId: "contract-3",
          expected: "crash",
          policy: "crash-only",
          quiesceAttempts: 1,
        });
        try {
          await lab.guestWrite(key, 4096, new Uint8Array(512).fill(0x22));
          const source = await lab.session.openDisk(vm, s, key);
          try {
            assert.deepEqual(await readAt(source, 4096, 512), new Uint8Array(512).fill(0x11));
            const tail = await readAt(source, source.capacity - 100, 100);
            assert.equal(tail.length, 100, "reads up to the very end of the disk");
          } finally {
            await source.close();
          }
        } finally {
          await lab.session.removeSnapshot(vm, s);
        }
      });
    });

    it("reports changed areas covering every guest write since the previous point (or reads in full)", async () => {
      await withLab(async (lab, vm, key) => {
        const request = { expected: "crash", policy: "crash-only", quiesceAttempts: 1 } as const;
        const first = await lab.session.createSnapshot(vm, { ...request, jobId: "contract-4a" });
        const d1 = first.disks.find((d) => d.key === key);
        assert.ok(d1);
        const initial = await lab.session.changedAreas(vm, first, d1, undefined);
        assert.equal(initial.kind, "full", "no previous point: a full read");
        await lab.session.commitSnapshot(vm, first);
        await lab.session.removeSnapshot(vm, first);
        assert.ok(d1.changeId !== undefined, "change tracking gives a change id");
        // Sector-aligned (real guests write whole sectors), not block-aligned, crossing two blocks.
        const offset = 3 * 65536 + 512;
        const length = 137 * 512;
        await lab.guestWrite(key, offset, new Uint8Array(length).fill(0x5a));
        const second = await lab.session.createSnapshot(vm, { ...request, jobId: "contract-4b" });
        try {
          const d2 = second.disks.find((d) => d.key === key);
          assert.ok(d2);
          const areas = await lab.session.changedAreas(vm, second, d2, {
            changeId: d1.changeId,
            capacity: d1.capacity,
          });
          if (options.changeTracking) assert.equal(areas.kind, "incremental", JSON.stringify(areas));
          if (areas.kind === "incremental") {
            assert.ok(
              covers(areas.extents, offset, 70_000),
              `extents ${JSON.stringify(areas.extents)} miss the write`,
            );
            for (const e of areas.extents) assert.ok(e.start >= 0 && e.start + e.length <= d2.capacity);
          } else {
            assert.notEqual(areas.reason, "", "a full read says why");
          }
        } finally {
          await lab.session.removeSnapshot(vm, second);
        }
      });
    });
  });
}
