/**
 * An in-memory hypervisor that implements `HypervisorSession` the way vSphere behaves: snapshots
 * freeze disk contents, CBT change ids are `<uuid>/<seq>` and answer the areas written since, a
 * quiesce can fail and is retried, `quiesce` is ignored without running tools, and it counts open
 * snapshots per datastore and concurrent snapshots per host so tests can check the job's limits
 * from the hypervisor's side. Faults are set per VM by the test.
 */
import { SnapvisorError } from "../../src/domain/errors.js";
import {
  SNAPSHOT_PREFIX,
  type BackupSnapshot,
  type ChangedAreas,
  type HypervisorSession,
  type PreviousDiskState,
  type SnapshotDisk,
  type SnapshotRequest,
  type VmDisk,
  type VmInfo,
} from "../../src/domain/hypervisor.js";
import type { DiskSource, Extent } from "../../src/domain/ports.js";

export const BLOCK = 64 * 1024;
const ZERO_BLOCK = Buffer.alloc(BLOCK);

export class FakeDisk {
  data: Uint8Array;
  uuid: string;
  /** Sequence number of the current CBT epoch; a snapshot takes it and moves it on. */
  seq = 1;
  readonly writes: { seq: number; start: number; length: number }[] = [];

  constructor(
    readonly spec: VmDisk,
    uuid: string,
  ) {
    this.data = new Uint8Array(spec.capacity);
    this.uuid = uuid;
  }

  /** A guest write. */
  write(offset: number, bytes: Uint8Array): void {
    this.data.set(bytes, offset);
    this.writes.push({ seq: this.seq, start: offset, length: bytes.length });
  }

  /** What a CBT reset does (FileFault afterwards): a new uuid, history gone. */
  resetTracking(): void {
    this.uuid = `${this.uuid}-reset`;
    this.writes.length = 0;
  }
}

interface FakeSnapshot extends BackupSnapshot {
  readonly vmId: string;
  readonly frozen: ReadonlyMap<string, Uint8Array>;
  readonly seqAt: ReadonlyMap<string, number>;
  readonly datastores: readonly string[];
}

export interface FakeVm {
  info: Omit<VmInfo, "disks" | "snapshots">;
  disks: FakeDisk[];
  snapshots: string[];
  faults: {
    quiesceFailures?: number;
    readFailure?: string;
    changedAreasFailure?: string;
    removeFailure?: boolean;
    /** commitSnapshot fails (Hyper-V: ConvertToReferencePoint). */
    commitFailure?: boolean;
    /** The snapshot is made, then reading it back fails (the caller gets no handle). */
    failAfterCreate?: boolean;
    /** Reads wait for this before answering (to abort mid-read). */
    readGate?: Promise<void>;
  };
}

/** Allocated (non-zero) 64 KiB blocks of a disk image, merged: what CBT "*" answers. */
export function allocatedExtents(data: Uint8Array): Extent[] {
  const out: Extent[] = [];
  for (let start = 0; start < data.length; start += BLOCK) {
    const end = Math.min(start + BLOCK, data.length);
    const block = Buffer.from(data.buffer, data.byteOffset + start, end - start);
    if (block.equals(ZERO_BLOCK.subarray(0, end - start))) continue;
    const last = out[out.length - 1];
    if (last && last.start + last.length === start)
      out[out.length - 1] = { start: last.start, length: end - last.start };
    else out.push({ start, length: end - start });
  }
  return out;
}

export class FakeHypervisor implements HypervisorSession {
  readonly vms = new Map<string, FakeVm>();
  readonly #snapshots = new Map<string, FakeSnapshot>();
  readonly openPerDatastore = new Map<string, number>();
  readonly maxOpenPerDatastore = new Map<string, number>();
  readonly activePerHost = new Map<string, number>();
  readonly maxActivePerHost = new Map<string, number>();
  readonly calls: string[] = [];
  #nextRef = 1;

  add(vm: FakeVm): FakeVm {
    this.vms.set(vm.info.id, vm);
    return vm;
  }

  #vm(vm: VmInfo): FakeVm {
    const found = this.vms.get(vm.id);
    if (!found) throw new SnapvisorError("VM_NOT_FOUND", `VM "${vm.name}" (${vm.id}) not found`);
    return found;
  }

  #bump(map: Map<string, number>, max: Map<string, number>, key: string, by: number): void {
    const n = (map.get(key) ?? 0) + by;
    map.set(key, n);
    max.set(key, Math.max(max.get(key) ?? 0, n));
  }

  async inventory(): Promise<readonly VmInfo[]> {
    return [...this.vms.values()].map((v) => ({
      ...v.info,
      disks: v.disks.map((d) => d.spec),
      snapshots: [...v.snapshots],
    }));
  }

  async removeLeftovers(vm: VmInfo, signal?: AbortSignal): Promise<readonly string[]> {
    signal?.throwIfAborted();
    const v = this.#vm(vm);
    const ours = v.snapshots.filter((n) => n.startsWith(SNAPSHOT_PREFIX));
    v.snapshots = v.snapshots.filter((n) => !n.startsWith(SNAPSHOT_PREFIX));
    for (const [ref, s] of this.#snapshots) {
      if (s.vmId !== vm.id || !ours.includes(s.name)) continue;
      this.#snapshots.delete(ref);
      for (const ds of s.datastores) this.#bump(this.openPerDatastore, this.maxOpenPerDatastore, ds, -1);
      this.#bump(this.activePerHost, this.maxActivePerHost, v.info.host, -1);
    }
    this.calls.push(`removeLeftovers ${vm.name}`);
    return ours;
  }

  async createSnapshot(vm: VmInfo, request: SnapshotRequest, signal?: AbortSignal): Promise<BackupSnapshot> {
    signal?.throwIfAborted();
    const v = this.#vm(vm);
    this.calls.push(`createSnapshot ${vm.name} ${request.expected}`);
    let achieved: BackupSnapshot["achieved"] = "crash";
    let reason = "";
    if (request.expected !== "crash") {
      if (v.info.power !== "on" || v.info.tools !== "running") {
        reason = `quiesce ignored: ${v.info.toolsDetail}`;
      } else {
        let failures = 0;
        while (failures < request.quiesceAttempts && (v.faults.quiesceFailures ?? 0) > 0) {
          v.faults.quiesceFailures = (v.faults.quiesceFailures ?? 0) - 1;
          failures++;
        }
        if (failures === request.quiesceAttempts) {
          const fault = `quiesce failed ${failures} times (ApplicationQuiesceFault)`;
          if (request.policy === "require-application") {
            throw new SnapvisorError("QUIESCE_FAILED", `Cannot quiesce VM "${vm.name}": ${fault}`);
          }
          reason = `${fault}: took a crash-consistent snapshot`;
        } else achieved = v.info.guestOs === "windows" ? "application" : "filesystem";
      }
    }
    const ref = `snapshot-${this.#nextRef++}`;
    const name = `${SNAPSHOT_PREFIX}${request.jobId}`;
    const disks: SnapshotDisk[] = [];
    const frozen = new Map<string, Uint8Array>();
    const seqAt = new Map<string, number>();
    for (const d of v.disks) {
      disks.push({
        key: d.spec.key,
        capacity: d.spec.capacity,
        changeId: d.spec.changeTracking ? `${d.uuid}/${d.seq}` : undefined,
      });
      frozen.set(d.spec.key, d.data.slice());
      seqAt.set(d.spec.key, d.seq);
      d.seq++;
    }
    const datastores = [...new Set(v.disks.map((d) => d.spec.datastore))];
    for (const ds of datastores) this.#bump(this.openPerDatastore, this.maxOpenPerDatastore, ds, 1);
    this.#bump(this.activePerHost, this.maxActivePerHost, v.info.host, 1);
    v.snapshots.push(name);
    const snap: FakeSnapshot = { ref, name, achieved, reason, disks, vmId: vm.id, frozen, seqAt, datastores };
    this.#snapshots.set(ref, snap);
    if (v.faults.failAfterCreate)
      throw new SnapvisorError("BAD_ANSWER", `New snapshot ${ref} is missing from the snapshot tree`);
    return snap;
  }

  #snap(snapshot: BackupSnapshot): FakeSnapshot {
    const s = this.#snapshots.get(snapshot.ref);
    if (!s) throw new SnapvisorError("SNAPSHOT_NOT_FOUND", `Snapshot ${snapshot.ref} not found`);
    return s;
  }

  async changedAreas(
    vm: VmInfo,
    snapshot: BackupSnapshot,
    disk: SnapshotDisk,
    previous: PreviousDiskState | undefined,
    signal?: AbortSignal,
  ): Promise<ChangedAreas> {
    signal?.throwIfAborted();
    const v = this.#vm(vm);
    const s = this.#snap(snapshot);
    if (v.faults.changedAreasFailure === disk.key)
      throw new SnapvisorError("CBT_QUERY_FAILED", "QueryChangedDiskAreas: FileFault");
    const d = v.disks.find((x) => x.spec.key === disk.key);
    const frozen = s.frozen.get(disk.key);
    if (!d || !frozen) throw new SnapvisorError("DISK_NOT_FOUND", `Disk ${disk.key} not found`);
    if (disk.changeId === undefined)
      return { kind: "full", reason: "change tracking is disabled on the disk" };
    if (previous === undefined)
      return { kind: "full", reason: "no previous change id", extents: allocatedExtents(frozen) };
    const [uuid, seq] = previous.changeId.split("/");
    const current = disk.changeId.split("/")[0];
    if (uuid !== current) {
      return {
        kind: "full",
        reason: `CBT reset: change id ${previous.changeId} is not valid any more (FileFault)`,
        extents: allocatedExtents(frozen),
      };
    }
    const upTo = s.seqAt.get(disk.key) ?? 0;
    const extents = d.writes
      .filter((w) => w.seq > Number(seq) && w.seq <= upTo)
      .map((w) => ({ start: w.start, length: w.length }));
    return { kind: "incremental", extents };
  }

  async openDisk(
    vm: VmInfo,
    snapshot: BackupSnapshot,
    diskKey: string,
    signal?: AbortSignal,
  ): Promise<DiskSource> {
    signal?.throwIfAborted();
    const v = this.#vm(vm);
    const frozen = this.#snap(snapshot).frozen.get(diskKey);
    if (!frozen) throw new SnapvisorError("DISK_NOT_FOUND", `Disk ${diskKey} not found in ${snapshot.ref}`);
    return {
      capacity: frozen.length,
      read: async (target, offset, readSignal) => {
        readSignal?.throwIfAborted();
        if (v.faults.readGate) {
          await new Promise<void>((resolve, reject) => {
            readSignal?.addEventListener("abort", () => reject(readSignal.reason as Error), { once: true });
            void v.faults.readGate?.then(resolve);
          });
        }
        if (v.faults.readFailure === diskKey)
          throw new SnapvisorError(
            "READ_FAILED",
            `Read of disk ${diskKey} failed at ${offset}: connection reset`,
          );
        if (offset + target.length > frozen.length && offset >= frozen.length)
          throw new RangeError(`read past the disk at ${offset}`);
        const n = Math.min(target.length, frozen.length - offset);
        target.set(frozen.subarray(offset, offset + n));
        return n;
      },
      close: async () => {},
    };
  }

  async commitSnapshot(vm: VmInfo, snapshot: BackupSnapshot, signal?: AbortSignal): Promise<void> {
    // Like the adapters: an aborted signal stops the call before it reaches the host.
    signal?.throwIfAborted();
    this.calls.push(`commitSnapshot ${vm.name} ${snapshot.name}`);
    if (this.#vm(vm).faults.commitFailure)
      throw new SnapvisorError("JOB_FAILED", "ConvertToReferencePoint failed: 32768");
  }

  async removeSnapshot(vm: VmInfo, snapshot: BackupSnapshot): Promise<void> {
    const v = this.#vm(vm);
    const s = this.#snap(snapshot);
    this.calls.push(`removeSnapshot ${vm.name}`);
    if (v.faults.removeFailure)
      throw new SnapvisorError(
        "TASK_FAILED",
        "RemoveSnapshot_Task: the operation is not allowed in the current state",
      );
    v.snapshots = v.snapshots.filter((n) => n !== s.name);
    this.#snapshots.delete(s.ref);
    for (const ds of s.datastores) this.#bump(this.openPerDatastore, this.maxOpenPerDatastore, ds, -1);
    this.#bump(this.activePerHost, this.maxActivePerHost, v.info.host, -1);
  }

  /** Snapshots not removed yet (ours and users'), by VM name. */
  openSnapshots(): Record<string, readonly string[]> {
    return Object.fromEntries(
      [...this.vms.values()].filter((v) => v.snapshots.length > 0).map((v) => [v.info.name, v.snapshots]),
    );
  }

  async close(): Promise<void> {}
}
