/**
 * Backup snapshots: create (memory=false, quiesce as decided, quiesce faults retried then handled by
 * policy), read the achieved consistency back from the new tree node, remove (never children) and
 * consolidate, and sweep our own leftovers. A snapshot is ours only when both its name carries
 * SNAPSHOT_PREFIX and its description carries OUR_MARK, so a user's look-alike is never touched.
 */
import {
  SNAPSHOT_PREFIX,
  type BackupSnapshot,
  type SnapshotRequest,
  type VmInfo,
} from "../../src/domain/hypervisor.js";
import type { ConsistencyLevel, Logger } from "../../src/domain/ports.js";
import { isSnapvisorError } from "../../src/domain/errors.js";
import type { VimClient } from "./client.js";
import { vsphereError } from "./errors.js";
import { isProtectable } from "./inventory.js";
import {
  arr,
  bool,
  byteCount,
  moref,
  parseAnswer,
  snapshotInfoSchema,
  virtualDeviceSchema,
  type SnapshotTree,
} from "./parse.js";
import { readProperties } from "./property-collector.js";
import type { MoRef } from "./soap/envelope.js";
import { flattenSnapshots } from "./inventory.js";
import { runTask, type WaitOptions } from "./waiters.js";

export const OUR_MARK = "snapvisor backup snapshot";

export function snapshotName(jobId: string): string {
  return `${SNAPSHOT_PREFIX}${jobId}`;
}

export function isOurs(node: Pick<SnapshotTree, "name" | "description">): boolean {
  return node.name.startsWith(SNAPSHOT_PREFIX) && node.description.startsWith(OUR_MARK);
}

const RANK: Record<ConsistencyLevel, number> = { crash: 0, filesystem: 1, application: 2 };

/**
 * What a new snapshot achieved (pure). A powered-off VM's disks are static, so the level decided
 * from its last shutdown stands. Otherwise `quiesced=false` is crash; `quiesced=true` is application
 * for a Windows guest with a VSS backup manifest, filesystem otherwise.
 */
export function achievedConsistency(
  vm: Pick<VmInfo, "power" | "guestOs">,
  node: Pick<SnapshotTree, "quiesced" | "backupManifest">,
  expected: ConsistencyLevel,
): { achieved: ConsistencyLevel; reason: string } {
  if (vm.power === "off") return { achieved: expected, reason: "" };
  let achieved: ConsistencyLevel;
  let why: string;
  if (!node.quiesced) {
    achieved = "crash";
    why = "the snapshot is not quiesced (quiesced=false)";
  } else if (vm.guestOs === "windows" && node.backupManifest !== undefined && node.backupManifest !== "") {
    achieved = "application";
    why = "";
  } else {
    achieved = "filesystem";
    why =
      vm.guestOs === "windows"
        ? "quiesced without a VSS backup manifest"
        : `quiesced ${vm.guestOs} guest (no VSS)`;
  }
  if (RANK[achieved] > RANK[expected]) achieved = expected;
  return { achieved, reason: achieved === expected ? "" : why };
}

export interface SnapshotDeps {
  readonly client: VimClient;
  readonly wait: WaitOptions;
  readonly logger: Logger;
  /** Pause between quiesce attempts. */
  readonly quiesceRetryDelayMs: number;
}

function vmRef(vm: VmInfo): MoRef {
  return { type: "VirtualMachine", value: vm.ref };
}

async function snapshotTree(deps: SnapshotDeps, vm: VmInfo, signal?: AbortSignal): Promise<SnapshotTree[]> {
  const props = await readProperties(deps.client, vmRef(vm), ["snapshot"], signal);
  const info = parseAnswer(
    snapshotInfoSchema.optional(),
    props.get("snapshot") as never,
    `snapshot tree of "${vm.name}"`,
  );
  return flattenSnapshots(info?.rootSnapshotList ?? []);
}

async function takeSnapshot(
  deps: SnapshotDeps,
  vm: VmInfo,
  request: SnapshotRequest,
  quiesce: boolean,
  signal?: AbortSignal,
): Promise<MoRef> {
  const info = await runTask(
    deps.client,
    "CreateSnapshot_Task",
    {
      _this: vmRef(vm),
      name: snapshotName(request.jobId),
      description: `${OUR_MARK}; job ${request.jobId}; removed automatically`,
      memory: false,
      quiesce,
    },
    `VM "${vm.name}"`,
    { ...deps.wait, signal },
  );
  return parseAnswer(moref, info.result as never, "CreateSnapshot_Task result");
}

export async function createBackupSnapshot(
  deps: SnapshotDeps,
  vm: VmInfo,
  request: SnapshotRequest,
  signal?: AbortSignal,
): Promise<BackupSnapshot> {
  const wantQuiesce = request.expected !== "crash" && request.policy !== "crash-only" && vm.power === "on";
  let ref: MoRef | undefined;
  let fallbackReason = "";
  const attempts = Math.max(1, request.quiesceAttempts);
  for (let attempt = 1; ref === undefined; attempt++) {
    try {
      ref = await takeSnapshot(deps, vm, request, wantQuiesce && fallbackReason === "", signal);
    } catch (err) {
      if (!isSnapvisorError(err, "VSPHERE_QUIESCE_FAILED") || fallbackReason !== "") throw err;
      deps.logger.warn({ vm: vm.name, attempt, attempts }, "quiesced snapshot failed");
      if (attempt < attempts) {
        await deps.wait.sleep(deps.quiesceRetryDelayMs, signal);
        continue;
      }
      if (request.policy === "require-application") {
        throw vsphereError(
          "VSPHERE_QUIESCE_FAILED",
          `Cannot quiesce VM "${vm.name}" after ${attempts} attempt(s); policy require-application forbids a crash-consistent fallback: ${err.message}`,
          {
            cause: err,
            details: { vm: vm.name, attempts },
          },
        );
      }
      fallbackReason = `quiesce failed ${attempts} time(s) (${err.message}); fell back to a crash-consistent snapshot`;
    }
  }
  let snapshot: BackupSnapshot;
  let why: string;
  try {
    const nodes = await snapshotTree(deps, vm, signal);
    const node = nodes.find((n) => n.snapshot.value === ref.value);
    if (node === undefined)
      throw vsphereError(
        "VSPHERE_BAD_ANSWER",
        `New snapshot ${ref.value} of VM "${vm.name}" is missing from its snapshot tree`,
      );
    const { achieved, reason } = achievedConsistency(vm, node, request.expected);
    why = reason;
    snapshot = {
      ref: ref.value,
      name: node.name,
      achieved,
      reason: fallbackReason !== "" ? fallbackReason : reason,
      disks: await snapshotDisks(deps.client, ref, vm.name, signal),
    };
  } catch (err) {
    // The snapshot exists but could not be described: remove it now rather than leave it to the sweep.
    await removeBackupSnapshot(deps, vm, { ref: ref.value, name: snapshotName(request.jobId) }, signal).catch(
      (e: unknown) =>
        deps.logger.warn({ vm: vm.name, err: String(e) }, "could not remove a snapshot after a failure"),
    );
    throw err;
  }
  const achieved = snapshot.achieved;
  if (request.policy === "require-application" && RANK[achieved] < RANK[request.expected]) {
    await removeBackupSnapshot(deps, vm, snapshot, signal);
    throw vsphereError(
      "VSPHERE_QUIESCE_FAILED",
      `VM "${vm.name}" reached ${achieved} consistency, not ${request.expected} (${why}); policy require-application forbids the downgrade`,
      {
        details: { vm: vm.name, achieved },
      },
    );
  }
  return snapshot;
}

/** The disks as the snapshot saw them; `changeId` comes from the snapshot's own config. */
export async function snapshotDisks(
  client: VimClient,
  snapshot: MoRef,
  vmName: string,
  signal?: AbortSignal,
) {
  const props = await readProperties(client, snapshot, ["config.hardware.device"], signal);
  const devices = parseAnswer(
    arr(virtualDeviceSchema),
    props.get("config.hardware.device") as never,
    `devices of snapshot ${snapshot.value}`,
  );
  return devices
    .filter((d) => d._type === "VirtualDisk" && isProtectable(d.backing))
    .map((d) => ({
      key: String(d.key),
      capacity: byteCount(
        d.capacityInBytes ?? (d.capacityInKB ?? 0n) * 1024n,
        `capacity of disk ${d.key} of "${vmName}"`,
      ),
      changeId: d.backing?.changeId,
    }));
}

/** Removes one snapshot (children kept) and consolidates when vSphere asks for it. */
export async function removeBackupSnapshot(
  deps: SnapshotDeps,
  vm: VmInfo,
  snapshot: Pick<BackupSnapshot, "ref" | "name">,
  signal?: AbortSignal,
): Promise<void> {
  const target = `snapshot "${snapshot.name}" of VM "${vm.name}"`;
  try {
    await runTask(
      deps.client,
      "RemoveSnapshot_Task",
      {
        _this: { type: "VirtualMachineSnapshot", value: snapshot.ref },
        removeChildren: false,
        consolidate: true,
      },
      target,
      { ...deps.wait, signal },
    );
  } catch (err) {
    if (!isSnapvisorError(err, "VSPHERE_NOT_FOUND")) throw err;
    deps.logger.info({ vm: vm.name, snapshot: snapshot.name }, "snapshot already gone");
  }
  const props = await readProperties(deps.client, vmRef(vm), ["runtime.consolidationNeeded"], signal);
  if (
    parseAnswer(
      bool.optional(),
      props.get("runtime.consolidationNeeded") as never,
      "runtime.consolidationNeeded",
    ) !== true
  )
    return;
  deps.logger.warn({ vm: vm.name }, "disks need consolidation after snapshot removal");
  try {
    await runTask(deps.client, "ConsolidateVMDisks_Task", { _this: vmRef(vm) }, `VM "${vm.name}"`, {
      ...deps.wait,
      signal,
    });
  } catch (err) {
    throw vsphereError(
      "VSPHERE_CONSOLIDATION_FAILED",
      `Disks of VM "${vm.name}" need consolidation and ConsolidateVMDisks_Task failed: ${(err as Error).message}`,
      {
        cause: err,
        retryable: true,
        details: { vm: vm.name },
      },
    );
  }
}

/** Removes every snapshot of ours left on `vm` by earlier runs; answers their names. */
export async function removeLeftovers(
  deps: SnapshotDeps,
  vm: VmInfo,
  signal?: AbortSignal,
): Promise<string[]> {
  const ours = (await snapshotTree(deps, vm, signal)).filter(isOurs);
  for (const node of ours) {
    deps.logger.info({ vm: vm.name, snapshot: node.name }, "removing leftover backup snapshot");
    await removeBackupSnapshot(deps, vm, { ref: node.snapshot.value, name: node.name }, signal);
  }
  return ours.map((n) => n.name);
}
