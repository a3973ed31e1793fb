/**
 * Turning a planned disk and the adapter's changed areas into what the repository reads: changed
 * extents on top of the parent, or a full read (allocated areas or the whole disk) with its reason.
 * The adapter's word is checked, not trusted: extents past the disk, or an incremental answer when
 * no base was given, become a full read with the reason stated.
 */
import { messageOf } from "../domain/errors.js";
import type { ChangedAreas, SnapshotDisk } from "../domain/hypervisor.js";
import type { DiskSource, Extent } from "../domain/ports.js";
import type { PointDiskInput } from "../domain/repository-port.js";
import type { DiskOutcome } from "./job-summary.js";
import type { PlannedDisk } from "./plan.js";

export interface ReadSpec extends Pick<PointDiskInput, "changed" | "fullReason"> {
  /** For a full read: the areas that may hold data (CBT "*"), when the adapter knows them. */
  readonly allocated?: readonly Extent[];
}

function beyond(extents: readonly Extent[], capacity: number): Extent | undefined {
  return extents.find((e) => e.start < 0 || e.length < 0 || e.start + e.length > capacity);
}

/** Decides what to read of one disk. `areas` is the adapter's answer, or the error it threw. */
export function readSpec(
  planned: PlannedDisk,
  disk: SnapshotDisk,
  areas: ChangedAreas | { error: unknown },
): ReadSpec {
  const full = (fullReason: string, allocated?: readonly Extent[]): ReadSpec =>
    allocated ? { changed: "all", fullReason, allocated } : { changed: "all", fullReason };
  if (disk.capacity !== planned.capacity) {
    return full(`disk resized from ${planned.capacity} to ${disk.capacity} bytes since the inventory`);
  }
  if ("error" in areas) {
    return full(`changed areas unavailable (${messageOf(areas.error)}): reading the whole disk`);
  }
  const extents = areas.extents;
  const bad = extents && beyond(extents, disk.capacity);
  if (bad) {
    return full(
      `the hypervisor reported an area past the disk (${bad.start}+${bad.length} > ${disk.capacity})`,
    );
  }
  if (areas.kind === "full") return full(planned.fullReason || areas.reason, areas.extents);
  if (planned.previous === undefined) return full(planned.fullReason || "no base point for an incremental");
  return { changed: areas.extents, fullReason: "" };
}

export function bytesToRead(spec: ReadSpec, capacity: number): number {
  const areas = spec.changed === "all" ? spec.allocated : spec.changed;
  return areas === undefined ? capacity : areas.reduce((n, e) => n + e.length, 0);
}

/**
 * The bytes the repository will read of `input`, for progress: the changed areas, or for a full
 * read the areas the source knows to be allocated (a thin 2 TB disk holding 200 GB reads 200 GB).
 * The source is asked once here and its answer handed on with the input, so the repository does not
 * ask again. A source that cannot say (or fails to) counts at its capacity.
 */
export async function withReadSize(
  input: PointDiskInput,
  signal?: AbortSignal,
): Promise<{ input: PointDiskInput; bytes: number }> {
  const total = (areas: readonly Extent[]) => areas.reduce((n, e) => n + Math.max(0, e.length), 0);
  if (input.changed !== "all") return { input, bytes: total(input.changed) };
  const source = input.source;
  if (!source.allocated) return { input, bytes: input.capacity };
  let areas: readonly Extent[];
  try {
    areas = await source.allocated(signal);
  } catch (err) {
    if (signal?.aborted) throw err;
    return { input, bytes: input.capacity };
  }
  return {
    input: { ...input, source: withAllocated(source, areas) },
    bytes: Math.min(input.capacity, total(areas)),
  };
}

/**
 * The snapshot's disk, answering `allocated()` with the adapter's allocated areas so a full read
 * skips what was never written. Without them the source is returned as it is.
 */
export function withAllocated(source: DiskSource, allocated: readonly Extent[] | undefined): DiskSource {
  if (allocated === undefined) return source;
  return {
    capacity: source.capacity,
    read: (target, offset, signal) => source.read(target, offset, signal),
    allocated: async () => allocated,
    close: () => source.close(),
  };
}

export function diskOutcome(key: string, capacity: number, spec: ReadSpec): DiskOutcome {
  return {
    key,
    capacity,
    mode: spec.changed === "all" ? "full" : "incremental",
    reason: spec.fullReason,
    bytesToRead: bytesToRead(spec, capacity),
  };
}
