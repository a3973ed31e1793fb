/**
 * Shared VHDX (guest clusters): frozen through a collection checkpoint of the VM collection holding
 * the guest cluster (Msvm_CollectionSnapshotService), taken once, by the VM that reads the disk.
 * Its reference points belong to the collection, so RCT lookups use the collection id.
 */
import type { VmInfo } from "../../src/domain/hypervisor.js";
import { hypervError } from "./errors.js";
import { completeMethod, JobFailure, type JobWaitOptions } from "./jobs.js";
import * as scripts from "./scripts.js";
import type { DiskAtSnapshot, SnapState } from "./snapshot-book.js";
import type { PsTransport } from "./transport.js";

export async function frozenSharedDisk(
  t: PsTransport,
  jobs: JobWaitOptions,
  vm: VmInfo,
  state: SnapState,
  key: string,
  shared: DiskAtSnapshot,
  ownerOf: (vm: VmInfo, signal?: AbortSignal) => Promise<string>,
  signal?: AbortSignal,
): Promise<{ disk: DiskAtSnapshot; owner: string }> {
  if (!state.collection) {
    const node = await ownerOf(vm, signal);
    const all = await scripts.runScript(t, scripts.collections, { node }, signal);
    const collection = all.find((c) => c.Members.some((m) => m.toLowerCase() === vm.id.toLowerCase()));
    if (!collection) {
      throw hypervError(
        "HYPERV_SHARED_DISK_NO_COLLECTION",
        `Shared disk ${shared.path} of VM "${vm.name}" cannot be checkpointed: the VM is in no VM collection (New-VMGroup -GroupType VMCollectionType) for its guest cluster`,
      );
    }
    let instanceId: string | undefined;
    let lastError = "";
    // Application-consistent first (the guest cluster's VSS), crash-consistent if that fails.
    for (const level of [1, 2]) {
      const start = await scripts.runScript(
        t,
        scripts.createSnapshot,
        { node, collectionId: collection.CollectionID, level },
        signal,
      );
      if (!start.Found)
        throw hypervError(
          "HYPERV_VM_NOT_FOUND",
          `VM collection ${collection.ElementName} is not visible from node ${node}`,
        );
      try {
        instanceId = (
          await completeMethod(
            t,
            node,
            start,
            `collection checkpoint of ${collection.ElementName}`,
            jobs,
            signal,
          )
        ).snapshotIds[0];
        break;
      } catch (err) {
        if (!(err instanceof JobFailure)) throw err;
        lastError = err.description;
        if (/VHD Set/i.test(err.description))
          throw hypervError(
            "HYPERV_VHDS_UNSUPPORTED",
            `Collection ${collection.ElementName}: ${err.description}`,
            { cause: err },
          );
      }
    }
    if (instanceId === undefined)
      throw hypervError(
        "HYPERV_JOB_FAILED",
        `Cannot checkpoint the shared disks of collection ${collection.ElementName}: ${lastError}`,
      );
    state.collection = { id: collection.CollectionID, instanceId, disks: [], done: false };
    await scripts.runScript(
      t,
      scripts.renameSnapshot,
      { node, snapshotId: instanceId, name: state.name },
      signal,
    );
    const details = await scripts.runScript(
      t,
      scripts.snapshotDetails,
      { node, snapshotId: instanceId },
      signal,
    );
    if (!details.Found)
      throw hypervError(
        "HYPERV_VM_NOT_FOUND",
        `Collection checkpoint ${instanceId} vanished from node ${node}`,
      );
    state.collection = {
      id: collection.CollectionID,
      instanceId,
      disks: details.Disks.map((d) => ({
        path: d.Path,
        capacity: d.Size,
        diskId: d.DiskIdentifier.toUpperCase(),
      })),
      done: false,
    };
  }
  const frozen = state.collection.disks.find((d) => d.diskId === shared.diskId);
  if (!frozen)
    throw hypervError(
      "HYPERV_DISK_NOT_FOUND",
      `Shared disk ${key} (${shared.path}) is not in the collection checkpoint of VM "${vm.name}"`,
    );
  return { disk: frozen, owner: state.collection.id };
}
