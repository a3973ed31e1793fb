/**
 * Planning a backup cycle: a pure function of the inventory, the protection groups, the latest
 * points in the repository and the previous run's members. It says for every VM whether it is
 * backed up (and how) or why not, pulls shared disks out as objects of their host/cluster, and
 * reports VMs added to or removed from each group since the last run.
 */
import { createHash } from "node:crypto";
import { decideConsistency, type ConsistencyDecision } from "../domain/consistency.js";
import type { PreviousDiskState, VmDisk, VmInfo } from "../domain/hypervisor.js";
import type { LatestPoint } from "../domain/repository-port.js";
import type { ProtectionGroup } from "./config-schema.js";
import { describeSelector, matchesSelector } from "./selectors.js";

export interface SourceInventory {
  /** Name of the vSphere endpoint, Hyper-V host or cluster in the config. */
  readonly source: string;
  readonly vms: readonly VmInfo[];
}

export interface PlannedDisk {
  readonly key: string;
  readonly capacity: number;
  /** Base for an incremental; undefined means a full read, for `fullReason`. */
  readonly previous: PreviousDiskState | undefined;
  readonly fullReason: string;
}

export type PlannedVm =
  | {
      readonly status: "include";
      readonly vm: VmInfo;
      readonly group: ProtectionGroup;
      readonly decision: ConsistencyDecision;
      readonly parent: string | undefined;
      readonly disks: readonly PlannedDisk[];
      /** Ids of the shared-disk objects this VM's points reference. */
      readonly sharedDisks: readonly string[];
    }
  /** Not backed up by choice (exclusion, another group) or because there is nothing to read. */
  | {
      readonly status: "skip";
      readonly vm: VmInfo;
      readonly group: ProtectionGroup | undefined;
      readonly reason: string;
    }
  /** Cannot meet the group's policy: a failure of the job, without any snapshot taken. */
  | {
      readonly status: "refuse";
      readonly vm: VmInfo;
      readonly group: ProtectionGroup;
      readonly reason: string;
    };

export interface PlannedSharedDisk {
  /** `shared:<owner>:<path>`, the machine id of its points. */
  readonly id: string;
  /** Cluster (or host) owning the disk. */
  readonly owner: string;
  readonly path: string;
  readonly capacity: number;
  readonly datastore: string;
  /** VM whose snapshot the disk is read through, and the disk's key in that VM. */
  readonly readVia: { readonly vmId: string; readonly diskKey: string };
  /** Names of every VM (protected or not) attached to it. */
  readonly vms: readonly string[];
  readonly protect: boolean;
  /** Why it is not protected (group settings, VHD Set) when `protect` is false. */
  readonly reason: string;
  readonly parent: string | undefined;
  readonly previous: PreviousDiskState | undefined;
  readonly fullReason: string;
}

export interface GroupChanges {
  readonly group: string;
  readonly added: readonly string[];
  readonly removed: readonly string[];
}

export interface BackupPlan {
  readonly createdAt: Date;
  readonly vms: readonly PlannedVm[];
  readonly sharedDisks: readonly PlannedSharedDisk[];
  readonly changes: readonly GroupChanges[];
}

export interface PlanInput {
  readonly inventory: readonly SourceInventory[];
  readonly groups: readonly ProtectionGroup[];
  /** Latest point per machine id (VM id or shared-disk id). */
  readonly latest: ReadonlyMap<string, LatestPoint>;
  /** VM names per group at the previous run (job history); a group missing here had no run. */
  readonly previousMembers?: ReadonlyMap<string, readonly string[]>;
  readonly now: Date;
}

/**
 * Key of the one disk in a shared-disk object's points: VMs attach the disk at different
 * controller locations, so the object's own key must not depend on the VM it is read through.
 */
export const SHARED_DISK_KEY = "shared";

/**
 * Machine id of a shared disk: `shared:<owner>:<16 hex of SHA-256(owner, path)>`. Repository ids
 * allow only `A-Z a-z 0-9 . _ : @ + -`, and Windows paths hold backslashes and spaces, so the path
 * is hashed (case-folded: NTFS paths are case-insensitive); the name keeps it readable.
 */
export function sharedDiskId(owner: string, path: string): string {
  const digest = createHash("sha256").update(`${owner}\n${path.toLowerCase()}`).digest("hex").slice(0, 16);
  return `shared:${owner.replace(/[^A-Za-z0-9._@+-]/g, "_").slice(0, 64)}:${digest}`;
}

/** The previous state of a disk, or why it must be read in full. */
export function diskBase(
  disk: Pick<VmDisk, "key" | "capacity" | "changeTracking">,
  latest: LatestPoint | undefined,
): PlannedDisk {
  const full = (fullReason: string): PlannedDisk => ({
    key: disk.key,
    capacity: disk.capacity,
    previous: undefined,
    fullReason,
  });
  if (!latest) return full("first backup: no previous point");
  const before = latest.disks.find((d) => d.key === disk.key);
  if (!before) return full(`new disk: not in previous point ${latest.id}`);
  if (before.capacity !== disk.capacity)
    return full(`disk resized from ${before.capacity} to ${disk.capacity} bytes`);
  if (!disk.changeTracking) return full("change tracking is disabled on the disk");
  if (before.changeId === undefined) return full(`previous point ${latest.id} recorded no change id`);
  return {
    key: disk.key,
    capacity: disk.capacity,
    previous: { changeId: before.changeId, capacity: before.capacity },
    fullReason: "",
  };
}

function groupFor(
  vm: VmInfo,
  source: string,
  groups: readonly ProtectionGroup[],
): { group?: ProtectionGroup; reason: string } {
  let excludedBy = "";
  for (const group of groups) {
    if (group.source !== source || !group.vms.some((s) => matchesSelector(vm, s))) continue;
    const ex = group.exclude.find((s) => matchesSelector(vm, s));
    if (ex) {
      excludedBy ||= `excluded from group "${group.name}" by ${describeSelector(ex)}`;
      continue;
    }
    return { group, reason: "" };
  }
  return { reason: excludedBy || "not selected by any protection group" };
}

function sharedProtected(group: ProtectionGroup, path: string): { protect: boolean; reason: string } {
  if (/\.vhds$/i.test(path))
    return { protect: false, reason: `VHD Set "${path}" is not supported; convert it to a shared VHDX` };
  if (group.sharedDisks === "all") return { protect: true, reason: "" };
  if (group.sharedDisks === "none")
    return { protect: false, reason: `group "${group.name}" protects no shared disks` };
  const listed = group.sharedDisks.some((p) => p.toLowerCase() === path.toLowerCase());
  return listed
    ? { protect: true, reason: "" }
    : { protect: false, reason: `detected, not listed in group "${group.name}" sharedDisks` };
}

interface SharedUse {
  readonly vm: VmInfo;
  readonly disk: VmDisk;
  readonly group: ProtectionGroup | undefined;
  readonly included: boolean;
}

/** One object per shared disk, read through the first included VM that uses it. */
function planSharedDisks(
  uses: ReadonlyMap<string, readonly SharedUse[]>,
  latest: PlanInput["latest"],
): PlannedSharedDisk[] {
  const out: PlannedSharedDisk[] = [];
  for (const [id, list] of uses) {
    const first = list[0];
    if (!first) continue;
    const via = list.find((u) => u.included);
    const protectedBy = via?.group;
    const verdict = protectedBy
      ? sharedProtected(protectedBy, first.disk.path)
      : { protect: false, reason: "no VM using it is backed up in this cycle" };
    const reader = via ?? first;
    const base = diskBase({ ...reader.disk, key: SHARED_DISK_KEY }, latest.get(id));
    out.push({
      id,
      owner: first.vm.cluster ?? first.vm.host,
      path: first.disk.path,
      capacity: reader.disk.capacity,
      datastore: reader.disk.datastore,
      readVia: { vmId: reader.vm.id, diskKey: reader.disk.key },
      vms: list.map((u) => u.vm.name),
      ...verdict,
      parent: latest.get(id)?.id,
      previous: base.previous,
      fullReason: base.fullReason,
    });
  }
  return out;
}

function byName(a: VmInfo, b: VmInfo): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Plans one backup cycle. Deterministic: VMs are considered in source, then name order. */
export function planBackup(input: PlanInput): BackupPlan {
  const vms: PlannedVm[] = [];
  const uses = new Map<string, SharedUse[]>();
  const members = new Map<string, string[]>();
  for (const { source, vms: list } of input.inventory) {
    for (const vm of [...list].sort(byName)) {
      const planned = planVm(vm, source, input);
      vms.push(planned);
      if (planned.group && planned.status !== "skip") {
        members.set(planned.group.name, [...(members.get(planned.group.name) ?? []), vm.name]);
      }
      for (const disk of vm.disks.filter((d) => d.shared)) {
        const id = sharedDiskId(vm.cluster ?? vm.host, disk.path);
        uses.set(id, [
          ...(uses.get(id) ?? []),
          { vm, disk, group: planned.group, included: planned.status === "include" },
        ]);
      }
    }
  }
  const changes: GroupChanges[] = [];
  for (const group of input.groups) {
    const before = input.previousMembers?.get(group.name);
    if (before === undefined) continue;
    const now = members.get(group.name) ?? [];
    changes.push({
      group: group.name,
      added: now.filter((n) => !before.includes(n)),
      removed: before.filter((n) => !now.includes(n)),
    });
  }
  return { createdAt: input.now, vms, sharedDisks: planSharedDisks(uses, input.latest), changes };
}

function planVm(vm: VmInfo, source: string, input: PlanInput): PlannedVm {
  const { group, reason } = groupFor(vm, source, input.groups);
  if (!group) return { status: "skip", vm, group: undefined, reason };
  const decision = decideConsistency(vm, group.policy.consistency);
  if (decision.refusal !== undefined) return { status: "refuse", vm, group, reason: decision.refusal };
  if (vm.disks.length === 0) return { status: "skip", vm, group, reason: "the VM has no disks" };
  const latest = input.latest.get(vm.id);
  return {
    status: "include",
    vm,
    group,
    decision,
    parent: latest?.id,
    disks: vm.disks.filter((d) => !d.shared).map((d) => diskBase(d, latest)),
    sharedDisks: vm.disks.filter((d) => d.shared).map((d) => sharedDiskId(vm.cluster ?? vm.host, d.path)),
  };
}
