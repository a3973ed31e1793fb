/**
 * Changed Block Tracking. `decideCbt` (pure) says whether a disk can be read incrementally from the
 * previous point's changeId or must be read in full, and why. `queryChangedAreas` pages
 * QueryChangedDiskAreas until the disk's end, checking every page (a page that does not start where
 * asked, does not advance, or reports areas outside itself is refused: an under-report would lose
 * data silently). Extents may over-report, never under-report.
 */
import type { ChangedAreas, PreviousDiskState, SnapshotDisk, VmInfo } from "../../src/domain/hypervisor.js";
import type { Extent, Logger } from "../../src/domain/ports.js";
import { isSnapvisorError } from "../../src/domain/errors.js";
import type { VimClient } from "./client.js";
import { vsphereError } from "./errors.js";
import { byteCount, diskChangeInfoSchema, parseAnswer } from "./parse.js";
import { createBackupSnapshot, removeBackupSnapshot, type SnapshotDeps } from "./snapshots.js";
import { runTask } from "./waiters.js";
import type { MoRef } from "./soap/envelope.js";

/** `52 de ... 6a/12` -> uuid part and sequence; undefined when the text is not a changeId. */
export function parseChangeId(changeId: string): { uuid: string; seq: string } | undefined {
  const slash = changeId.lastIndexOf("/");
  if (slash <= 0 || slash === changeId.length - 1) return undefined;
  return { uuid: changeId.slice(0, slash).trim().toLowerCase(), seq: changeId.slice(slash + 1) };
}

export type CbtPlan =
  | { readonly mode: "incremental"; readonly since: string }
  | { readonly mode: "full"; readonly reason: string; readonly allocatedMap: boolean };

/** Incremental or full for one disk (pure). `allocatedMap`: ask for the `"*"` allocated areas. */
export function decideCbt(
  disk: Pick<SnapshotDisk, "key" | "capacity" | "changeId">,
  previous: PreviousDiskState | undefined,
): CbtPlan {
  if (disk.changeId === undefined || disk.changeId === "")
    return {
      mode: "full",
      reason: `CBT is not active on disk ${disk.key} (the snapshot carries no changeId)`,
      allocatedMap: false,
    };
  if (previous === undefined)
    return {
      mode: "full",
      reason: `first backup of disk ${disk.key} (no previous changeId)`,
      allocatedMap: true,
    };
  if (previous.capacity !== disk.capacity)
    return {
      mode: "full",
      reason: `disk ${disk.key} was resized from ${previous.capacity} to ${disk.capacity} bytes`,
      allocatedMap: true,
    };
  const before = parseChangeId(previous.changeId);
  const now = parseChangeId(disk.changeId);
  if (before === undefined)
    return {
      mode: "full",
      reason: `previous changeId of disk ${disk.key} is malformed: ${JSON.stringify(previous.changeId)}`,
      allocatedMap: true,
    };
  if (now === undefined)
    return {
      mode: "full",
      reason: `changeId of disk ${disk.key} is malformed: ${JSON.stringify(disk.changeId)}`,
      allocatedMap: true,
    };
  if (before.uuid !== now.uuid)
    return {
      mode: "full",
      reason: `CBT of disk ${disk.key} was reset (changeId UUID changed from ${before.uuid} to ${now.uuid})`,
      allocatedMap: true,
    };
  return { mode: "incremental", since: previous.changeId };
}

/** Sorts and merges overlapping or touching extents (pure). */
export function mergeExtents(extents: readonly Extent[]): Extent[] {
  const sorted = [...extents].filter((e) => e.length > 0).sort((a, b) => a.start - b.start);
  const out: Extent[] = [];
  for (const e of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && e.start <= last.start + last.length) {
      out[out.length - 1] = {
        start: last.start,
        length: Math.max(last.length, e.start + e.length - last.start),
      };
    } else out.push(e);
  }
  return out;
}

export interface CbtQuery {
  readonly vm: MoRef;
  readonly vmName: string;
  readonly snapshot: MoRef;
  readonly deviceKey: number;
  readonly capacity: number;
  readonly changeId: string;
}

/** Every changed (or, for `"*"`, allocated) area of one disk, paged to the disk's end. */
export async function queryChangedAreas(
  client: VimClient,
  q: CbtQuery,
  signal?: AbortSignal,
): Promise<Extent[]> {
  const extents: Extent[] = [];
  const target = `disk ${q.deviceKey} of VM "${q.vmName}"`;
  let offset = 0;
  while (offset < q.capacity) {
    const answer = await client.callPlain(
      "QueryChangedDiskAreas",
      {
        _this: q.vm,
        snapshot: q.snapshot,
        deviceKey: q.deviceKey,
        startOffset: offset,
        changeId: q.changeId,
      },
      { signal, target },
    );
    const page = parseAnswer(diskChangeInfoSchema, answer, `QueryChangedDiskAreas for ${target}`);
    const start = byteCount(page.startOffset, "DiskChangeInfo.startOffset");
    const length = byteCount(page.length, "DiskChangeInfo.length");
    if (start !== offset || length <= 0) {
      throw vsphereError(
        "VSPHERE_CBT_INCONSISTENT",
        `QueryChangedDiskAreas for ${target} answered window [${start}, +${length}) when asked from ${offset}`,
        {
          details: { asked: offset, start, length },
        },
      );
    }
    for (const area of page.changedArea) {
      const e = {
        start: byteCount(area.start, "DiskChangeExtent.start"),
        length: byteCount(area.length, "DiskChangeExtent.length"),
      };
      if (e.start < start || e.start + e.length > Math.min(start + length, q.capacity)) {
        throw vsphereError(
          "VSPHERE_CBT_INCONSISTENT",
          `QueryChangedDiskAreas for ${target} reported [${e.start}, +${e.length}) outside its window [${start}, +${length}) or past the disk end ${q.capacity}`,
          {
            details: { extent: e, start, length },
          },
        );
      }
      extents.push(e);
    }
    offset = start + length;
  }
  return mergeExtents(extents);
}

export interface ChangedAreasInput {
  readonly client: VimClient;
  readonly logger: Logger;
  readonly vm: Pick<VmInfo, "ref" | "name">;
  readonly snapshotRef: string;
  readonly disk: SnapshotDisk;
  readonly previous: PreviousDiskState | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** The plan carried out: an incremental extent list, or a full read with the reason (and `"*"` map). */
export async function changedAreas(input: ChangedAreasInput): Promise<ChangedAreas> {
  const { client, vm, disk, signal } = input;
  const base = {
    vm: { type: "VirtualMachine", value: vm.ref },
    vmName: vm.name,
    snapshot: { type: "VirtualMachineSnapshot", value: input.snapshotRef },
    deviceKey: Number(disk.key),
    capacity: disk.capacity,
  };
  let plan = decideCbt(disk, input.previous);
  if (plan.mode === "incremental") {
    try {
      return {
        kind: "incremental",
        extents: await queryChangedAreas(client, { ...base, changeId: plan.since }, signal),
      };
    } catch (err) {
      if (
        !isSnapvisorError(
          err,
          "VSPHERE_FILE_FAULT",
          "VSPHERE_NOT_IMPLEMENTED",
          "VSPHERE_INVALID_ARGUMENT",
          "VSPHERE_NOT_FOUND",
        )
      )
        throw err;
      plan = {
        mode: "full",
        reason: `QueryChangedDiskAreas refused changeId ${plan.since} for disk ${disk.key} (${err.code}: ${err.message})`,
        allocatedMap: true,
      };
    }
  }
  if (!plan.allocatedMap) return { kind: "full", reason: plan.reason };
  try {
    return {
      kind: "full",
      reason: plan.reason,
      extents: await queryChangedAreas(client, { ...base, changeId: "*" }, signal),
    };
  } catch (err) {
    if (
      !isSnapvisorError(
        err,
        "VSPHERE_FILE_FAULT",
        "VSPHERE_NOT_IMPLEMENTED",
        "VSPHERE_INVALID_ARGUMENT",
        "VSPHERE_NOT_FOUND",
      )
    )
      throw err;
    input.logger.warn(
      { vm: vm.name, disk: disk.key, code: err.code },
      "allocated-area query failed; reading the whole disk",
    );
    return { kind: "full", reason: `${plan.reason}; allocated areas unknown (${err.code}), whole disk read` };
  }
}

/**
 * Turns CBT on (VM-level `changeTrackingEnabled`) and, for a running VM, activates it with a stun:
 * a snapshot create/remove cycle (VDDK's documented order). The cycle snapshot is one of ours
 * (prefix and mark), so an interrupted cycle is swept as a leftover.
 */
export async function enableCbt(
  deps: SnapshotDeps,
  vm: VmInfo,
  jobId: string,
  signal?: AbortSignal,
): Promise<void> {
  const target = `VM "${vm.name}"`;
  deps.logger.info({ vm: vm.name }, "enabling changed block tracking");
  await runTask(
    deps.client,
    "ReconfigVM_Task",
    {
      _this: { type: "VirtualMachine", value: vm.ref },
      spec: { _type: "VirtualMachineConfigSpec", changeTrackingEnabled: true },
    },
    target,
    { ...deps.wait, signal },
  );
  if (vm.power !== "on") return;
  const cycle = await createBackupSnapshot(
    deps,
    vm,
    { jobId: `${jobId}-cbt`, expected: "crash", policy: "crash-only", quiesceAttempts: 1 },
    signal,
  );
  await removeBackupSnapshot(deps, vm, cycle, signal);
}
