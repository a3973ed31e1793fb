/**
 * One VM's part of a backup job: the state it collects (disks read, messages, consistency, point)
 * and the per-disk step that asks the adapter for changed areas and opens the disk.
 */
import { isSnapvisorError } from "../domain/errors.js";
import type { BackupSnapshot, ChangedAreas, HypervisorSession, VmInfo } from "../domain/hypervisor.js";
import type { ConsistencyRecord, DiskSource, Logger } from "../domain/ports.js";
import type { PointDiskInput, PointSummary } from "../domain/repository-port.js";
import { diskOutcome, readSpec, withAllocated } from "./disk-inputs.js";
import { ControllerError } from "./errors.js";
import type { DiskOutcome, ObjectOutcome } from "./job-summary.js";
import { SHARED_DISK_KEY, type PlannedDisk, type PlannedVm } from "./plan.js";

export type Included = Extract<PlannedVm, { status: "include" }>;

export interface SharedResult {
  readonly point?: PointSummary;
  /** Name of the VM the disk is read through. */
  readonly reader: string;
  readonly disks: readonly DiskOutcome[];
  readonly error?: string;
}

export interface Deferred {
  readonly promise: Promise<PointSummary | undefined>;
  resolve(value: PointSummary | undefined): void;
}

export function deferred(): Deferred {
  let resolve!: (value: PointSummary | undefined) => void;
  const promise = new Promise<PointSummary | undefined>((r) => (resolve = r));
  return { promise, resolve };
}

export function errorCode(err: unknown, signal: AbortSignal | undefined): string {
  if (signal?.aborted) return "JOB_ABORTED";
  return isSnapvisorError(err) ? err.code : "VM_FAILED";
}

/** One VM's run; collects its outcome and those of the shared disks it reads. */
export class VmRun {
  readonly messages: string[] = [];
  readonly disks: DiskOutcome[] = [];
  readonly opened: DiskSource[] = [];
  leftovers: readonly string[] = [];
  consistency: ConsistencyRecord | undefined;
  point: PointSummary | undefined;
  snapshotLeft = false;

  constructor(
    readonly signal: AbortSignal | undefined,
    readonly planned: Included,
    readonly session: HypervisorSession,
    readonly log: Logger,
  ) {}

  get vm(): VmInfo {
    return this.planned.vm;
  }

  /** Reads one disk's spec from the adapter and opens it for the repository. */
  async disk(snapshot: BackupSnapshot, planned: PlannedDisk, storeKey: string): Promise<PointDiskInput> {
    const signal = this.signal;
    const snapDisk = snapshot.disks.find((d) => d.key === planned.key);
    if (!snapDisk) {
      throw new ControllerError(
        "VM_FAILED",
        `Disk ${planned.key} of VM "${this.vm.name}" is missing from snapshot "${snapshot.name}"`,
      );
    }
    let areas: ChangedAreas | { error: unknown };
    try {
      areas = await this.session.changedAreas(this.vm, snapshot, snapDisk, planned.previous, signal);
    } catch (error) {
      if (signal?.aborted) throw error;
      areas = { error };
    }
    const spec = readSpec(planned, snapDisk, areas);
    if (spec.fullReason !== "") this.log.info({ disk: planned.key, reason: spec.fullReason }, "full read");
    const source = await this.session.openDisk(this.vm, snapshot, planned.key, signal);
    this.opened.push(source);
    this.disks.push(diskOutcome(storeKey, snapDisk.capacity, spec));
    return {
      key: storeKey,
      capacity: snapDisk.capacity,
      source: withAllocated(source, spec.allocated),
      changed: spec.changed,
      changeId: snapDisk.changeId,
      fullReason: spec.fullReason,
    };
  }
}

export function outcomeOf(
  p: Included,
  run: VmRun | undefined,
  status: ObjectOutcome["status"],
  extra: readonly string[],
  errorCode: string | undefined,
): ObjectOutcome {
  return {
    kind: "vm",
    id: p.vm.id,
    name: p.vm.name,
    group: p.group.name,
    status,
    messages: [...(run?.messages ?? []), ...extra],
    disks: run?.disks.filter((d) => d.key !== SHARED_DISK_KEY) ?? [],
    leftoversRemoved: run?.leftovers ?? [],
    ...(run?.consistency ? { consistency: run.consistency } : {}),
    ...(run?.point ? { point: run.point } : {}),
    ...(errorCode !== undefined ? { errorCode } : {}),
  };
}
