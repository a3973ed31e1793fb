/**
 * The backup job: for each planned VM, under the limiter, clean our leftovers -> snapshot ->
 * changed areas -> write the point (the repository reads the snapshot) -> commit -> remove the
 * snapshot, which happens in a `finally`, also after a failure or an abort. A VM's failure never
 * stops the others. Shared disks are written once, through the first VM planned to read them;
 * VMs that only reference a shared disk wait for it before taking their limiter slots, so the wait
 * can never hold a slot the reader needs.
 */
import { reconcileConsistency } from "../domain/consistency.js";
import { messageOf } from "../domain/errors.js";
import type { BackupSnapshot, HypervisorSession, VmInfo } from "../domain/hypervisor.js";
import { noopLogger, type Clock, type ConsistencyRecord, type Logger } from "../domain/ports.js";
import type {
  PointDiskInput,
  PointDiskReference,
  PointSummary,
  RepositoryWriter,
} from "../domain/repository-port.js";
import { withReadSize } from "./disk-inputs.js";
import {
  VmRun,
  deferred,
  errorCode,
  outcomeOf,
  type Deferred,
  type Included,
  type SharedResult,
} from "./vm-run.js";
import { ControllerError } from "./errors.js";
import { exitCodeOf, type JobSummary, type ObjectOutcome } from "./job-summary.js";
import { keysForVm, storeKeys, type LimitKey, type Limiter } from "./limits.js";
import { SHARED_DISK_KEY, sharedDiskId, type BackupPlan, type PlannedSharedDisk } from "./plan.js";

export type JobEvent =
  | { readonly type: "object-start"; readonly id: string; readonly name: string; readonly bytesTotal: number }
  | { readonly type: "object-progress"; readonly id: string; readonly bytesRead: number }
  | { readonly type: "object-done"; readonly outcome: ObjectOutcome };

export interface BackupJobOptions {
  readonly jobId: string;
  readonly plan: BackupPlan;
  /** Session per config source name (vSphere endpoint, Hyper-V host or cluster). */
  readonly sessions: ReadonlyMap<string, HypervisorSession>;
  readonly repository: RepositoryWriter;
  readonly limiter: Limiter;
  readonly clock: Clock;
  readonly logger?: Logger;
  /** Aborts waiting and running VMs (SIGINT/SIGTERM); snapshots are still removed. */
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: JobEvent) => void;
}

export async function runBackupJob(options: BackupJobOptions): Promise<JobSummary> {
  const { plan, clock, signal } = options;
  const logger = (options.logger ?? noopLogger).child({ job: options.jobId });
  const startedAt = clock.now();
  const outcomes: ObjectOutcome[] = [];
  const emit = (outcome: ObjectOutcome) => {
    outcomes.push(outcome);
    options.onEvent?.({ type: "object-done", outcome });
  };
  const shared = new Map<string, Deferred>();
  for (const s of plan.sharedDisks) if (s.protect) shared.set(s.id, deferred());

  for (const p of plan.vms) {
    // VMs outside every group are not part of the job (the plan keeps them for `inventory`).
    if (p.status === "include" || p.group === undefined) continue;
    const base = {
      kind: "vm",
      id: p.vm.id,
      name: p.vm.name,
      group: p.group?.name,
      disks: [],
      leftoversRemoved: [],
    } as const;
    if (p.status === "skip") emit({ ...base, status: "skipped", messages: [p.reason] });
    else emit({ ...base, status: "failed", messages: [p.reason], errorCode: "CONSISTENCY_NOT_MET" });
  }
  const included = plan.vms.filter((p): p is Included => p.status === "include");
  const sharedResults = new Map<string, SharedResult>();
  await Promise.all(included.map((p) => runVm(p)));

  for (const s of plan.sharedDisks) {
    const base = {
      kind: "shared-disk",
      id: s.id,
      name: `${s.owner}:${s.path}`,
      group: undefined,
      leftoversRemoved: [],
    } as const;
    const r = sharedResults.get(s.id);
    if (!s.protect) emit({ ...base, status: "skipped", messages: [s.reason], disks: [] });
    else if (r?.point) {
      emit({
        ...base,
        status: "ok",
        messages: [`read through VM "${r.reader}"`],
        point: r.point,
        disks: r.disks,
      });
    } else {
      const why = r?.error ?? "the VM it is read through did not reach it";
      emit({ ...base, status: signal?.aborted ? "aborted" : "failed", messages: [why], disks: [] });
    }
  }
  // The summary lists objects in plan order, whatever order they finished in.
  const order = new Map<string, number>(
    [...plan.vms.map((p) => p.vm.id), ...plan.sharedDisks.map((s) => s.id)].map((id, i) => [id, i]),
  );
  outcomes.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
  const finishedAt = clock.now();
  return {
    jobId: options.jobId,
    startedAt,
    finishedAt,
    outcomes,
    changes: plan.changes,
    exitCode: exitCodeOf(outcomes),
  };

  async function runVm(p: Included): Promise<void> {
    const log = logger.child({ vm: p.vm.name, host: p.vm.host });
    const session = options.sessions.get(p.group.source);
    const reads = plan.sharedDisks.filter((s) => s.protect && s.readVia.vmId === p.vm.id);
    if (!session) {
      const message = `No session for source "${p.group.source}" of VM "${p.vm.name}"`;
      for (const s of reads) shared.get(s.id)?.resolve(undefined);
      emit(outcomeOf(p, undefined, "failed", [message], "VM_FAILED"));
      return;
    }
    const run = new VmRun(signal, p, session, log);
    try {
      // Wait (holding nothing) for shared disks another VM reads, so this point can reference them.
      await Promise.all(
        p.sharedDisks
          .filter((id) => !reads.some((s) => s.id === id))
          .map((id) => shared.get(id)?.promise ?? Promise.resolve(undefined)),
      );
      signal?.throwIfAborted();
      await backUp(run, reads);
    } catch (err) {
      const code = errorCode(err, signal);
      log.error({ code, err: messageOf(err) }, "VM backup failed");
      for (const s of reads) {
        if (!sharedResults.get(s.id)?.point) {
          sharedResults.set(s.id, {
            reader: p.vm.name,
            disks: [],
            error: `VM "${p.vm.name}" failed: ${messageOf(err)}`,
          });
        }
      }
      emit(outcomeOf(p, run, code === "JOB_ABORTED" ? "aborted" : "failed", [messageOf(err)], code));
      return;
    } finally {
      for (const s of reads) shared.get(s.id)?.resolve(sharedResults.get(s.id)?.point);
    }
    emit(outcomeOf(p, run, run.snapshotLeft || run.messages.length > 0 ? "warning" : "ok", [], undefined));
  }

  async function backUp(run: VmRun, reads: readonly PlannedSharedDisk[]): Promise<void> {
    const { vm, decision, group } = run.planned;
    const keys: LimitKey[] = keysForVm(vm, group.source);
    for (const s of reads) keys.push(...storeKeys(vm.hypervisor, group.source, s.datastore));
    const lease = await options.limiter.acquire(keys, signal);
    try {
      run.leftovers = await run.session.removeLeftovers(vm, signal);
      if (run.leftovers.length > 0)
        run.log.warn({ removed: run.leftovers }, "removed leftover backup snapshots");
      const request = {
        jobId: options.jobId,
        expected: decision.method === "quiesced-snapshot" ? decision.expected : "crash",
        policy: group.policy.consistency,
        quiesceAttempts: group.policy.quiesceAttempts,
      } as const;
      let snapshot: BackupSnapshot;
      try {
        snapshot = await run.session.createSnapshot(vm, request, signal);
      } catch (err) {
        await sweepAfterFailedCreate(run);
        throw err;
      }
      try {
        await afterSnapshot(run, snapshot, reads);
      } finally {
        await Promise.allSettled(run.opened.map((s) => s.close()));
        try {
          // No signal: the snapshot must go even when the job is being aborted.
          await run.session.removeSnapshot(vm, snapshot);
        } catch (err) {
          run.snapshotLeft = true;
          run.messages.push(`backup snapshot "${snapshot.name}" could not be removed: ${messageOf(err)}`);
        }
      }
    } finally {
      lease.release();
    }
  }

  /**
   * A create that failed after the hypervisor made the snapshot (reading it back, an abort) leaves
   * no handle to remove it by; our prefix finds it. Without a signal: it must run on abort too.
   */
  async function sweepAfterFailedCreate(run: VmRun): Promise<void> {
    try {
      const removed = await run.session.removeLeftovers(run.vm);
      if (removed.length > 0)
        run.messages.push(`removed the half-made snapshot ${removed.map((n) => `"${n}"`).join(", ")}`);
    } catch (err) {
      run.messages.push(`could not sweep a half-made backup snapshot: ${messageOf(err)}`);
    }
  }

  async function afterSnapshot(run: VmRun, snapshot: BackupSnapshot, reads: readonly PlannedSharedDisk[]) {
    const { vm, decision, group } = run.planned;
    const takenAt = clock.now();
    const r = reconcileConsistency(decision, snapshot, group.policy.consistency);
    run.consistency = r.record;
    if (r.verdict === "fail") {
      throw new ControllerError("CONSISTENCY_NOT_MET", `Cannot back up VM "${vm.name}": ${r.message}`);
    }
    if (r.verdict === "warning") run.messages.push(r.message);
    for (const s of reads) {
      const planned = {
        key: s.readVia.diskKey,
        capacity: s.capacity,
        previous: s.previous,
        fullReason: s.fullReason,
      };
      const disk = await run.disk(snapshot, planned, SHARED_DISK_KEY);
      const machine = {
        id: s.id,
        name: `${s.owner}:${s.path}`,
        hypervisor: vm.hypervisor,
        kind: "shared-disk",
      } as const;
      const point = await write(machine, [disk], r.record, s.parent, takenAt, []);
      sharedResults.set(s.id, {
        point,
        reader: vm.name,
        disks: run.disks.filter((d) => d.key === SHARED_DISK_KEY),
      });
    }
    const disks: PointDiskInput[] = [];
    for (const d of run.planned.disks) disks.push(await run.disk(snapshot, d, d.key));
    const references: PointDiskReference[] = [];
    for (const d of vm.disks.filter((x) => x.shared)) {
      const id = sharedDiskId(vm.cluster ?? vm.host, d.path);
      const point = sharedResults.get(id)?.point;
      if (point) references.push({ key: d.key, machineId: id, pointId: point.id });
      else if (shared.has(id)) run.messages.push(`shared disk "${d.path}" has no point in this cycle`);
    }
    const machine = { id: vm.id, name: vm.name, hypervisor: vm.hypervisor, kind: "vm" } as const;
    run.point = await write(machine, disks, r.record, run.planned.parent, takenAt, references);
    try {
      // No signal: once the point is written, an abort lets the commit finish like the removal that
      // follows (on Hyper-V the commit *is* the removal: the checkpoint becomes a reference point),
      // so the VM is reported with the point it has and its next backup stays incremental.
      await run.session.commitSnapshot(vm, snapshot);
    } catch (err) {
      // The point is written and complete; only the base of the next incremental is lost.
      run.messages.push(
        `point written, but the snapshot could not be committed (the next backup reads in full): ${messageOf(err)}`,
      );
    }
  }

  async function write(
    machine: { id: string; name: string; hypervisor: VmInfo["hypervisor"]; kind: "vm" | "shared-disk" },
    disks: readonly PointDiskInput[],
    consistency: ConsistencyRecord,
    parent: string | undefined,
    takenAt: Date,
    references: readonly PointDiskReference[],
  ): Promise<PointSummary> {
    const sized = await Promise.all(disks.map((d) => withReadSize(d, signal)));
    const bytesTotal = sized.reduce((n, d) => n + d.bytes, 0);
    options.onEvent?.({ type: "object-start", id: machine.id, name: machine.name, bytesTotal });
    let bytesRead = 0;
    return options.repository.writePoint({
      machine,
      jobId: options.jobId,
      takenAt,
      disks: sized.map((d) => d.input),
      references,
      consistency,
      ...(parent !== undefined && disks.some((d) => d.changed !== "all") ? { parent } : {}),
      ...(signal ? { signal } : {}),
      onProgress: (n) => {
        bytesRead += n;
        options.onEvent?.({ type: "object-progress", id: machine.id, bytesRead });
      },
    });
  }
}
