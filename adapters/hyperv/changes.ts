/**
 * Changed areas of a frozen disk since the previous recovery point: resolve the stored locator to the
 * RCT id of our reference point, then page GetVirtualDiskChanges on ProcessedByteLength. Every way
 * tracking can be lost ends in a full read with the reason, never in a silent one.
 */
import type { ChangedAreas, PreviousDiskState } from "../../src/domain/hypervisor.js";
import type { Extent } from "../../src/domain/ports.js";
import { hypervError, throwIfAborted } from "./errors.js";
import { completeMethod, JobFailure, type JobWaitOptions } from "./jobs.js";
import { decodeChangeId, RCT_RESET_CODES, rctResetCode } from "./rct.js";
import { diskChanges, referencePoints, runScript } from "./scripts.js";
import type { PsTransport } from "./transport.js";

export interface ChangesTarget {
  readonly node: string;
  /** VirtualSystemIdentifier of the reference points (VM id, or collection id for shared disks). */
  readonly owner: string;
  readonly path: string;
  readonly diskId: string;
  readonly capacity: number;
  readonly window: number;
  readonly jobs: JobWaitOptions;
}

function full(reason: string): ChangedAreas {
  return { kind: "full", reason };
}

export async function readChanges(
  t: PsTransport,
  target: ChangesTarget,
  previous: PreviousDiskState | undefined,
  signal?: AbortSignal,
): Promise<ChangedAreas> {
  if (!previous) return full("no previous recovery point of this disk (first backup or new disk)");
  if (previous.capacity !== target.capacity)
    return full(`disk resized from ${previous.capacity} to ${target.capacity} bytes`);
  const loc = decodeChangeId(previous.changeId);
  if (!loc) return full(`previous change id "${previous.changeId}" is not a Hyper-V reference point locator`);
  if (loc.diskId.toUpperCase() !== target.diskId.toUpperCase()) {
    return full(
      `disk identity changed (was ${loc.diskId}, now ${target.diskId}): the disk was replaced or recreated`,
    );
  }
  const points = await runScript(t, referencePoints, { node: target.node, ownerId: target.owner }, signal);
  const rp = points.find((p) => p.ElementName === loc.referencePoint);
  if (!rp)
    return full(
      `reference point "${loc.referencePoint}" no longer exists on the host (deleted, or the VM was re-created or imported)`,
    );
  const index = rp.VirtualDiskIdentifiers.findIndex((id) => id.toUpperCase() === target.diskId.toUpperCase());
  const rctId = rp.ResilientChangeTrackingIdentifiers[index];
  if (index < 0 || rctId === undefined)
    return full(`reference point "${loc.referencePoint}" does not track disk ${target.diskId}`);
  const extents: Extent[] = [];
  for (let offset = 0; offset < target.capacity;) {
    throwIfAborted(signal, `RCT query of ${target.path}`);
    const length = Math.min(target.window, target.capacity - offset);
    const r = await runScript(
      t,
      diskChanges,
      { node: target.node, path: target.path, limitId: rctId, offset, length },
      signal,
    );
    if (r.ReturnValue !== 0) {
      try {
        await completeMethod(
          t,
          target.node,
          r,
          `GetVirtualDiskChanges of ${target.path}`,
          target.jobs,
          signal,
        );
      } catch (err) {
        if (!(err instanceof JobFailure)) throw err;
        const code = rctResetCode(err.errorCode, err.description);
        if (code) return full(`RCT: ${RCT_RESET_CODES[code] ?? ""} (${code}) for id ${rctId}`);
        throw hypervError(
          "HYPERV_RCT_FAILED",
          `GetVirtualDiskChanges of ${target.path} failed: ${err.description}`,
          { cause: err, details: { errorCode: err.errorCode } },
        );
      }
      throw hypervError(
        "HYPERV_RCT_FAILED",
        `GetVirtualDiskChanges of ${target.path} returned ${r.ReturnValue} without changes`,
      );
    }
    const processed = r.ProcessedByteLength ?? 0;
    if (processed <= 0)
      throw hypervError(
        "HYPERV_RCT_FAILED",
        `GetVirtualDiskChanges of ${target.path} processed no bytes at offset ${offset}`,
      );
    if (r.Offsets.length !== r.Lengths.length)
      throw hypervError(
        "HYPERV_BAD_OUTPUT",
        `GetVirtualDiskChanges of ${target.path}: ${r.Offsets.length} offsets but ${r.Lengths.length} lengths`,
      );
    r.Offsets.forEach((start, i) => {
      const len = r.Lengths[i] ?? 0;
      if (len > 0) extents.push({ start, length: Math.min(len, target.capacity - start) });
    });
    offset += processed;
  }
  return { kind: "incremental", extents };
}
