/**
 * HypervSession: the HypervisorSession port over a PsTransport. Inventory across cluster nodes,
 * recovery checkpoints through WMI (named SNAPSHOT_PREFIX + job id), RCT changed areas, disks read
 * through the VHDX reader over the transport's byte sources. The owner node of a VM is looked up
 * right before every step that changes something, so a VM that live-migrates mid-job is followed.
 */
import type {
  BackupSnapshot,
  ChangedAreas,
  HypervisorSession,
  PreviousDiskState,
  SnapshotDisk,
  SnapshotRequest,
  VmInfo,
} from "../../src/domain/hypervisor.js";
import { SNAPSHOT_PREFIX } from "../../src/domain/hypervisor.js";
import type { DiskSource, Logger } from "../../src/domain/ports.js";
import { noopLogger } from "../../src/domain/ports.js";
import { isSnapvisorError } from "../../src/domain/errors.js";
import { openVhdxSource } from "../../src/disk/vhdx/open.js";
import { hypervError, type HypervError } from "./errors.js";
import { completeMethod, JobFailure, waitForJob, type JobWaitOptions } from "./jobs.js";
import { LateCheckpoints, RECLAIM_POLLS, type LateJob } from "./late-checkpoints.js";
import { readChanges } from "./changes.js";
import * as scripts from "./scripts.js";
import type { ClusterInfo, HaltEvent, NodeVm } from "./script-schemas.js";
import { classifyShutdown, type VmEvent } from "./shutdown.js";
import { encodeChangeId } from "./rct.js";
import type { PsTransport } from "./transport.js";
import { diskKey, isSharedDisk, toVmInfo } from "./vm-info.js";
import { KeyedLimiter } from "./limiter.js";
import { SnapshotBook, type DiskAtSnapshot, type SnapState } from "./snapshot-book.js";
import { frozenSharedDisk } from "./shared-disks.js";

export interface HypervSessionOptions {
  readonly logger?: Logger;
  /** Sleep between job polls; tests inject an immediate one. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly jobPollMs?: number;
  readonly maxJobPolls?: number;
  /** Bytes asked per GetVirtualDiskChanges call (the host may process fewer). Default 64 GiB. */
  readonly rctWindow?: number;
  /** Checkpoints created at once per CSV. Default 2. */
  readonly checkpointsPerVolume?: number;
  /** Attempts to destroy a checkpoint whose merge fails before giving up. Default 3. */
  readonly destroyAttempts?: number;
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface InventoryProblem {
  readonly node: string;
  readonly code: string;
  readonly message: string;
  /** VM names the problem hides (cluster groups owned by the node). */
  readonly vms: readonly string[];
}

export class HypervSession implements HypervisorSession {
  readonly #t: PsTransport;
  readonly #log: Logger;
  readonly #jobs: JobWaitOptions;
  readonly #rctWindow: number;
  readonly #destroyAttempts: number;
  readonly #limiter: KeyedLimiter;
  readonly #book = new SnapshotBook();
  readonly #late = new LateCheckpoints();
  #problems: InventoryProblem[] = [];

  constructor(transport: PsTransport, options: HypervSessionOptions = {}) {
    this.#t = transport;
    this.#log = options.logger ?? noopLogger;
    this.#jobs = {
      sleep: options.sleep ?? defaultSleep,
      pollMs: options.jobPollMs ?? 500,
      maxPolls: options.maxJobPolls ?? 7200,
    };
    this.#rctWindow = options.rctWindow ?? 64 * 2 ** 30;
    this.#destroyAttempts = options.destroyAttempts ?? 3;
    this.#limiter = new KeyedLimiter(options.checkpointsPerVolume ?? 2);
  }

  /** Nodes that could not be inventoried in the last inventory() (their VMs are missing from it). */
  get inventoryProblems(): readonly InventoryProblem[] {
    return this.#problems;
  }

  async topology(signal?: AbortSignal): Promise<ClusterInfo> {
    return scripts.runScript(this.#t, scripts.clusterInfo, {}, signal);
  }

  async inventory(signal?: AbortSignal): Promise<readonly VmInfo[]> {
    const topo = await this.topology(signal);
    const nodes = topo.Cluster
      ? topo.Nodes.map((n) => ({ name: n.Name, up: n.State === "Up" }))
      : [{ name: topo.LocalNode, up: true }];
    const problems: InventoryProblem[] = [];
    const found: Array<{ vm: NodeVm; node: string }> = [];
    for (const n of nodes) {
      const groupVms = topo.Groups.filter((g) => g.OwnerNode.toLowerCase() === n.name.toLowerCase()).map(
        (g) => g.Name,
      );
      if (!n.up) {
        problems.push({
          node: n.name,
          code: "HYPERV_NODE_DOWN",
          message: `Cluster node ${n.name} is down`,
          vms: groupVms,
        });
        continue;
      }
      try {
        for (const vm of await scripts.runScript(this.#t, scripts.nodeVms, { node: n.name }, signal))
          found.push({ vm, node: n.name });
      } catch (err) {
        if (!isSnapvisorError(err, "HYPERV_NODE_DOWN")) throw err;
        problems.push({ node: n.name, code: err.code, message: err.message, vms: groupVms });
      }
    }
    const events = await this.#events(
      nodes.filter((n) => n.up).map((n) => n.name),
      found.filter((f) => f.vm.State === "Off" || f.vm.State === "OffCritical").map((f) => f.vm.Id),
      signal,
    );
    this.#problems = problems;
    return found.map(({ vm, node }) =>
      toVmInfo(vm, topo, node, classifyShutdown(events.get(vm.Id.toLowerCase()) ?? [])),
    );
  }

  /** Halt events of the given VMs from every node's log (a clustered VM may have stopped anywhere). */
  async #events(
    nodes: readonly string[],
    vmIds: readonly string[],
    signal?: AbortSignal,
  ): Promise<Map<string, VmEvent[]>> {
    const out = new Map<string, VmEvent[]>();
    if (vmIds.length === 0) return out;
    for (const node of nodes) {
      let events: HaltEvent[];
      try {
        events = await scripts.runScript(this.#t, scripts.haltEvents, { node, vmIds }, signal);
      } catch (err) {
        if (isSnapvisorError(err, "HYPERV_NODE_DOWN")) continue;
        throw err;
      }
      for (const e of events) {
        if (!e.TimeCreated) continue;
        const key = e.VmId.toLowerCase();
        out.set(key, [...(out.get(key) ?? []), { id: e.Id, time: e.TimeCreated, node: e.Node }]);
      }
    }
    return out;
  }

  /** The node that owns `vm` now (cluster group owner, or the standalone host); down = coded error. */
  async ownerOf(vm: VmInfo, signal?: AbortSignal): Promise<string> {
    const topo = await this.topology(signal);
    if (!topo.Cluster) return topo.LocalNode;
    const group = topo.Groups.find((g) => g.VmId.toLowerCase() === vm.id.toLowerCase());
    const owner = group?.OwnerNode ?? vm.host;
    const node = topo.Nodes.find((n) => n.Name.toLowerCase() === owner.toLowerCase());
    if (!node || node.State !== "Up") {
      throw hypervError(
        "HYPERV_NODE_DOWN",
        `VM "${vm.name}" is owned by cluster node ${owner}, which is ${node?.State ?? "unknown"}`,
        { retryable: true, details: { vm: vm.name, node: owner } },
      );
    }
    return node.Name;
  }

  async removeLeftovers(vm: VmInfo, signal?: AbortSignal): Promise<readonly string[]> {
    const removed: string[] = [];
    for (const job of this.#late.of(vm.id)) {
      // One look each: a job that has ended either made a checkpoint (destroyed now) or not.
      const outcome = await this.#reclaim(job, 1, signal);
      if (outcome !== "running") this.#late.done(job);
      if (outcome === "removed") removed.push(`late checkpoint of job ${job.jobId}`);
    }
    const node = await this.ownerOf(vm, signal);
    const owners = [vm.id, ...(await this.#collectionsOf(vm, node, signal)).map((c) => c.CollectionID)];
    for (const ownerId of owners) {
      const snaps = await scripts.runScript(this.#t, scripts.recoverySnapshots, { node, ownerId }, signal);
      for (const s of snaps.filter((x) => x.ElementName.startsWith(SNAPSHOT_PREFIX))) {
        await this.#destroy(
          node,
          s.InstanceID,
          ownerId !== vm.id,
          `leftover checkpoint "${s.ElementName}" of VM "${vm.name}"`,
          signal,
        );
        removed.push(s.ElementName);
      }
    }
    return removed;
  }

  async #collectionsOf(vm: VmInfo, node: string, signal?: AbortSignal): Promise<scripts.CollectionList> {
    if (!vm.disks.some((d) => d.shared)) return [];
    const all = await scripts.runScript(this.#t, scripts.collections, { node }, signal);
    return all.filter((c) => c.Members.some((m) => m.toLowerCase() === vm.id.toLowerCase()));
  }

  async createSnapshot(vm: VmInfo, request: SnapshotRequest, signal?: AbortSignal): Promise<BackupSnapshot> {
    const volume = vm.disks.find((d) => !d.shared)?.datastore ?? vm.host;
    return this.#limiter.run(volume, async () => {
      const name = `${SNAPSHOT_PREFIX}${request.jobId}`;
      const wantQuiesce = request.expected !== "crash";
      const attempts = wantQuiesce ? Math.max(1, request.quiesceAttempts) : 0;
      let lastFailure: HypervError | undefined;
      for (let i = 0; i < attempts; i++) {
        try {
          return await this.#takeSnapshot(vm, name, 1, request, "", signal);
        } catch (err) {
          if (!isSnapvisorError(err, "HYPERV_QUIESCE_FAILED")) throw err;
          lastFailure = err;
          this.#log.warn(
            { vm: vm.name, attempt: i + 1, err: err.message },
            "application-consistent checkpoint failed",
          );
        }
      }
      if (lastFailure) {
        if (request.policy === "require-application") throw lastFailure;
        const reason = `application-consistent checkpoint failed ${attempts} time(s), fell back to crash-consistent: ${lastFailure.message}`;
        return this.#takeSnapshot(vm, name, 2, request, reason, signal);
      }
      return this.#takeSnapshot(vm, name, 2, request, "", signal);
    });
  }

  async #takeSnapshot(
    vm: VmInfo,
    name: string,
    level: 1 | 2,
    request: SnapshotRequest,
    reason: string,
    signal?: AbortSignal,
  ): Promise<BackupSnapshot> {
    let node = await this.ownerOf(vm, signal);
    let start = await scripts.runScript(
      this.#t,
      scripts.createSnapshot,
      { node, vmId: vm.id, level },
      signal,
    );
    if (!start.Found) {
      // Migrated between the owner lookup and the call: follow it once.
      node = await this.ownerOf(vm, signal);
      start = await scripts.runScript(this.#t, scripts.createSnapshot, { node, vmId: vm.id, level }, signal);
      if (!start.Found)
        throw hypervError("HYPERV_VM_NOT_FOUND", `VM "${vm.name}" (${vm.id}) is not on node ${node}`, {
          details: { vm: vm.name, node },
        });
    }
    let job;
    try {
      job = await completeMethod(this.#t, node, start, `CreateSnapshot of "${vm.name}"`, this.#jobs, signal);
    } catch (err) {
      if (isSnapvisorError(err, "HYPERV_JOB_TIMEOUT")) {
        await this.#lateCheckpoint({
          node,
          jobId: start.JobId,
          vmId: vm.id,
          what: `CreateSnapshot of "${vm.name}"`,
        });
        throw err;
      }
      if (!(err instanceof JobFailure)) throw err;
      const code =
        level === 1
          ? "HYPERV_QUIESCE_FAILED"
          : /critical state/i.test(err.description)
            ? "HYPERV_VM_STATE"
            : "HYPERV_JOB_FAILED";
      throw hypervError(
        code,
        `Cannot create a ${level === 1 ? "application-consistent" : "crash-consistent"} recovery checkpoint of VM "${vm.name}" on ${node}: ${err.description}`,
        { cause: err, details: { errorCode: err.errorCode, node } },
      );
    }
    const instanceId = job.snapshotIds[0];
    if (instanceId === undefined)
      throw hypervError("HYPERV_JOB_FAILED", `CreateSnapshot of "${vm.name}" completed without a checkpoint`);
    // From here on the checkpoint exists: if describing it fails, it is destroyed before the error.
    const state: SnapState = {
      vm: vm.id,
      owner: vm.id,
      instanceId,
      name,
      level,
      collection: undefined,
      disks: new Map(),
      committed: false,
      shared: new Map(),
    };
    this.#book.add(state);
    try {
      return await this.#describeSnapshot(vm, state, request, reason, signal);
    } catch (err) {
      // The caller gets no BackupSnapshot to remove: destroy the checkpoint here, then report.
      await this.ownerOf(vm, signal)
        .then((owner) =>
          this.#destroy(owner, instanceId, false, `checkpoint "${name}" of VM "${vm.name}"`, signal),
        )
        .catch((cleanup: unknown) =>
          this.#log.error({ vm: vm.name, err: String(cleanup) }, "checkpoint left behind"),
        );
      this.#book.delete(instanceId);
      throw err;
    }
  }

  async #describeSnapshot(
    vm: VmInfo,
    state: SnapState,
    request: SnapshotRequest,
    reason: string,
    signal?: AbortSignal,
  ): Promise<BackupSnapshot> {
    const { instanceId, name, level } = state;
    const node = await this.ownerOf(vm, signal);
    await scripts.runScript(this.#t, scripts.renameSnapshot, { node, snapshotId: instanceId, name }, signal);
    const details = await scripts.runScript(
      this.#t,
      scripts.snapshotDetails,
      { node, snapshotId: instanceId },
      signal,
    );
    if (!details.Found)
      throw hypervError(
        "HYPERV_VM_NOT_FOUND",
        `Checkpoint ${instanceId} of VM "${vm.name}" vanished from node ${node}`,
      );
    const byId = new Map(details.Disks.map((d) => [d.DiskIdentifier.toUpperCase(), d]));
    const disks: SnapshotDisk[] = [];
    for (const d of vm.disks) {
      if (d.shared) {
        if (/\.vhds$/i.test(d.path)) continue;
        const vhd = await scripts.runScript(this.#t, scripts.vhdInfo, { node, path: d.path }, signal);
        const diskId = vhd.DiskIdentifier.toUpperCase();
        state.shared.set(d.key, { path: d.path, capacity: vhd.Size, diskId });
        disks.push({
          key: d.key,
          capacity: vhd.Size,
          changeId: encodeChangeId({ referencePoint: name, diskId }),
        });
        continue;
      }
      const frozen = await this.#frozenFor(d.path, byId, node, signal);
      if (!frozen)
        throw hypervError(
          "HYPERV_DISK_NOT_FOUND",
          `Disk ${d.key} (${d.path}) of VM "${vm.name}" is not in checkpoint ${instanceId}`,
        );
      state.disks.set(d.key, frozen);
      disks.push({
        key: d.key,
        capacity: frozen.capacity,
        changeId: encodeChangeId({ referencePoint: name, diskId: frozen.diskId }),
      });
    }
    const achieved =
      level === 1 ? (request.expected === "crash" ? "application" : request.expected) : "crash";
    return { ref: instanceId, name, achieved, reason, disks };
  }

  async #frozenFor(
    path: string,
    byId: Map<string, { Path: string; Size: number; DiskIdentifier: string }>,
    node: string,
    signal?: AbortSignal,
  ): Promise<DiskAtSnapshot | undefined> {
    const vhd = await scripts.runScript(this.#t, scripts.vhdInfo, { node, path }, signal);
    const frozen = byId.get(vhd.DiskIdentifier.toUpperCase());
    return frozen
      ? { path: frozen.Path, capacity: frozen.Size, diskId: frozen.DiskIdentifier.toUpperCase() }
      : undefined;
  }

  async changedAreas(
    vm: VmInfo,
    snapshot: BackupSnapshot,
    disk: SnapshotDisk,
    previous: PreviousDiskState | undefined,
    signal?: AbortSignal,
  ): Promise<ChangedAreas> {
    const state = this.#book.get(snapshot.ref);
    const at = await this.#diskAt(vm, state, disk.key, signal);
    const node = await this.ownerOf(vm, signal);
    return readChanges(
      this.#t,
      {
        node,
        owner: at.owner,
        path: at.disk.path,
        diskId: at.disk.diskId,
        capacity: at.disk.capacity,
        window: this.#rctWindow,
        jobs: this.#jobs,
      },
      previous,
      signal,
    );
  }

  /** The frozen file of a disk at the checkpoint; a shared disk is frozen on first use (collection checkpoint). */
  async #diskAt(
    vm: VmInfo,
    state: SnapState,
    key: string,
    signal?: AbortSignal,
  ): Promise<{ disk: DiskAtSnapshot; owner: string }> {
    const own = state.disks.get(key);
    if (own) return { disk: own, owner: state.owner };
    const shared = state.shared.get(key);
    if (!shared) {
      const d = vm.disks.find((x) => x.key === key);
      if (d && /\.vhds$/i.test(d.path))
        throw hypervError(
          "HYPERV_VHDS_UNSUPPORTED",
          `Disk ${key} of VM "${vm.name}" is a VHD Set (${d.path}); host-level backup of VHD Sets is not supported: convert it to a shared VHDX or back it up from inside the guest`,
        );
      throw hypervError(
        "HYPERV_DISK_NOT_FOUND",
        `Disk ${key} is not part of checkpoint ${state.name} of VM "${vm.name}"`,
      );
    }
    return frozenSharedDisk(
      this.#t,
      this.#jobs,
      vm,
      state,
      key,
      shared,
      (v, s) => this.ownerOf(v, s),
      signal,
    );
  }

  async openDisk(
    vm: VmInfo,
    snapshot: BackupSnapshot,
    diskKey: string,
    signal?: AbortSignal,
  ): Promise<DiskSource> {
    const state = this.#book.get(snapshot.ref);
    const { disk } = await this.#diskAt(vm, state, diskKey, signal);
    const path = this.#t.imagePath(disk.path);
    const open = (p: string, s?: AbortSignal): ReturnType<PsTransport["openImageFile"]> =>
      this.#t.openImageFile(p, s);
    return openVhdxSource(await open(path, signal), path, { openFile: open, ...(signal ? { signal } : {}) });
  }

  async commitSnapshot(vm: VmInfo, snapshot: BackupSnapshot, signal?: AbortSignal): Promise<void> {
    const state = this.#book.get(snapshot.ref);
    const node = await this.ownerOf(vm, signal);
    await this.#convert(
      node,
      state.instanceId,
      false,
      state.name,
      `checkpoint "${state.name}" of VM "${vm.name}"`,
      signal,
    );
    state.committed = true;
    await this.#checkReferencePoint(node, vm, state, signal);
    await this.#pruneReferencePoints(node, vm.id, state.name, signal);
    if (state.collection?.instanceId !== undefined && !state.collection.done) {
      await this.#convert(
        node,
        state.collection.instanceId,
        true,
        state.name,
        `shared-disk checkpoint "${state.name}"`,
        signal,
      );
      state.collection.done = true;
      await this.#pruneReferencePoints(node, state.collection.id, state.name, signal);
    }
  }

  async #convert(
    node: string,
    snapshotId: string,
    collection: boolean,
    name: string,
    what: string,
    signal?: AbortSignal,
  ): Promise<void> {
    const start = await scripts.runScript(
      this.#t,
      scripts.snapshotAction,
      { node, snapshotId, action: "convert", collection, referencePointName: name },
      signal,
    );
    if (!start.Found)
      throw hypervError("HYPERV_VM_NOT_FOUND", `Cannot convert ${what}: it is not on node ${node}`);
    try {
      await completeMethod(this.#t, node, start, `ConvertToReferencePoint of ${what}`, this.#jobs, signal);
    } catch (err) {
      if (!(err instanceof JobFailure)) throw err;
      throw hypervError(
        "HYPERV_CHECKPOINT_MERGE_FAILED",
        `Cannot convert ${what} to a reference point on ${node}: ${err.description}`,
        { cause: err, retryable: true, details: { errorCode: err.errorCode } },
      );
    }
  }

  /** Reads back the achieved level Hyper-V recorded on the reference point (1 application, 2 crash). */
  async #checkReferencePoint(
    node: string,
    vm: VmInfo,
    state: SnapState,
    signal?: AbortSignal,
  ): Promise<void> {
    const points = await scripts.runScript(
      this.#t,
      scripts.referencePoints,
      { node, ownerId: vm.id },
      signal,
    );
    const rp = points.find((p) => p.ElementName === state.name);
    if (!rp)
      throw hypervError(
        "HYPERV_JOB_FAILED",
        `Reference point "${state.name}" of VM "${vm.name}" is missing after ConvertToReferencePoint`,
      );
    if (rp.ConsistencyLevel !== state.level) {
      this.#log.warn(
        { vm: vm.name, asked: state.level, recorded: rp.ConsistencyLevel },
        "Hyper-V recorded another consistency level on the reference point",
      );
    }
  }

  /** Keeps only our newest reference point (the baseline of the next run) for `ownerId`. */
  async #pruneReferencePoints(
    node: string,
    ownerId: string,
    keep: string,
    signal?: AbortSignal,
  ): Promise<void> {
    const points = await scripts.runScript(this.#t, scripts.referencePoints, { node, ownerId }, signal);
    for (const rp of points.filter(
      (p) => p.ElementName.startsWith(SNAPSHOT_PREFIX) && p.ElementName !== keep,
    )) {
      const start = await scripts.runScript(
        this.#t,
        scripts.destroyReferencePoint,
        { node, referencePointId: rp.InstanceID },
        signal,
      );
      if (start.Found)
        await completeMethod(
          this.#t,
          node,
          start,
          `DestroyReferencePoint ${rp.ElementName}`,
          this.#jobs,
          signal,
        ).catch((err: unknown) => {
          this.#log.warn(
            { referencePoint: rp.ElementName, err: String(err) },
            "old reference point not removed",
          );
        });
    }
  }

  async removeSnapshot(vm: VmInfo, snapshot: BackupSnapshot, signal?: AbortSignal): Promise<void> {
    const state = this.#book.find(snapshot.ref);
    if (!state) return;
    const node = await this.ownerOf(vm, signal);
    if (state.collection?.instanceId !== undefined && !state.collection.done) {
      await this.#destroy(
        node,
        state.collection.instanceId,
        true,
        `shared-disk checkpoint "${state.name}"`,
        signal,
      );
      state.collection.done = true;
    }
    if (!state.committed)
      await this.#destroy(
        node,
        state.instanceId,
        false,
        `checkpoint "${state.name}" of VM "${vm.name}"`,
        signal,
      );
    this.#book.delete(snapshot.ref);
  }

  /** DestroySnapshot with retries (a merge can fail transiently); a checkpoint already gone is fine. */
  /**
   * A CreateSnapshot that timed out: wait a little more and destroy what it made, or keep the job
   * for the next sweep of the VM (late-checkpoints.ts). Never throws: the timeout is the error.
   */
  async #lateCheckpoint(job: LateJob): Promise<void> {
    const outcome = await this.#reclaim(job, Math.min(this.#jobs.maxPolls, RECLAIM_POLLS)).catch(
      (err: unknown) => {
        this.#log.error({ job: job.jobId, err: String(err) }, "late checkpoint not reclaimed");
        return "running" as const;
      },
    );
    if (outcome === "running") {
      this.#late.add(job);
      this.#log.warn(
        { node: job.node, job: job.jobId },
        `${job.what} is still running after the polling budget: its checkpoint will be removed by the next sweep of the VM`,
      );
    }
  }

  /** Polls a late CreateSnapshot job; destroys the checkpoints it made once it completed. */
  async #reclaim(job: LateJob, polls: number, signal?: AbortSignal): Promise<"removed" | "none" | "running"> {
    let made: readonly string[];
    try {
      made = (
        await waitForJob(this.#t, job.node, job.jobId, job.what, { ...this.#jobs, maxPolls: polls }, signal)
      ).snapshotIds;
    } catch (err) {
      if (err instanceof JobFailure) return "none";
      if (isSnapvisorError(err, "HYPERV_JOB_TIMEOUT")) return "running";
      if (isSnapvisorError(err, "HYPERV_JOB_FAILED")) {
        // The host forgot the job (they are kept for minutes): what it made cannot be told apart.
        this.#log.error(
          { node: job.node, job: job.jobId },
          `${job.what}: job gone; a checkpoint without our name may remain`,
        );
        return "none";
      }
      throw err;
    }
    for (const id of made) await this.#destroy(job.node, id, false, `late checkpoint of ${job.what}`, signal);
    return made.length > 0 ? "removed" : "none";
  }

  async #destroy(
    node: string,
    snapshotId: string,
    collection: boolean,
    what: string,
    signal?: AbortSignal,
  ): Promise<void> {
    let last: JobFailure | undefined;
    for (let i = 0; i < this.#destroyAttempts; i++) {
      const start = await scripts.runScript(
        this.#t,
        scripts.snapshotAction,
        { node, snapshotId, action: "destroy", collection },
        signal,
      );
      if (!start.Found) return;
      try {
        await completeMethod(this.#t, node, start, `DestroySnapshot of ${what}`, this.#jobs, signal);
        return;
      } catch (err) {
        if (!(err instanceof JobFailure)) throw err;
        last = err;
        this.#log.warn({ what, attempt: i + 1, err: err.description }, "checkpoint merge failed");
      }
    }
    throw hypervError(
      "HYPERV_CHECKPOINT_MERGE_FAILED",
      `Cannot remove ${what} on ${node} after ${this.#destroyAttempts} attempts: ${last?.description ?? ""}`,
      { cause: last, retryable: true, details: { errorCode: last?.errorCode } },
    );
  }

  async close(): Promise<void> {
    await this.#t.close();
  }
}

export { diskKey, isSharedDisk };
