/**
 * An in-memory `RepositoryWriter`: it really reads the requested areas from each disk source and
 * keeps a complete image per disk per point (parent's image or zeros, changed areas on top), so
 * tests can compare a point with the disk at snapshot time. A point appears only when every disk
 * was read, like a manifest written last.
 */
import { SnapvisorError } from "../../src/domain/errors.js";
import type { ConsistencyRecord } from "../../src/domain/ports.js";
import type {
  LatestPoint,
  MachineRef,
  PointDiskReference,
  PointSummary,
  RepositoryWriter,
  WritePointRequest,
} from "../../src/domain/repository-port.js";

export interface StoredPoint {
  readonly id: string;
  readonly machine: MachineRef;
  readonly parent: string | undefined;
  readonly takenAt: Date;
  readonly consistency: ConsistencyRecord;
  readonly references: readonly PointDiskReference[];
  readonly disks: ReadonlyMap<
    string,
    { capacity: number; changeId: string | undefined; data: Uint8Array; fullReason: string }
  >;
}

const PIECE = 64 * 1024;

export class FakeRepository implements RepositoryWriter {
  readonly points: StoredPoint[] = [];
  #next = 1;

  async writePoint(request: WritePointRequest): Promise<PointSummary> {
    const parent =
      request.parent === undefined ? undefined : this.points.find((p) => p.id === request.parent);
    if (request.parent !== undefined && !parent)
      throw new SnapvisorError("POINT_NOT_FOUND", `Parent point ${request.parent} not found`);
    const disks = new Map<
      string,
      { capacity: number; changeId: string | undefined; data: Uint8Array; fullReason: string }
    >();
    let bytesRead = 0;
    for (const d of request.disks) {
      let data = new Uint8Array(d.capacity);
      if (d.changed !== "all") {
        const base = parent?.disks.get(d.key);
        if (!base || base.capacity !== d.capacity) {
          throw new SnapvisorError(
            "PARENT_MISMATCH",
            `Disk ${d.key} has no same-size disk in parent ${request.parent ?? "(none)"}`,
          );
        }
        data = base.data.slice();
      }
      // A full read reads what the source says may hold data (all of it without `allocated`).
      const allocated =
        d.changed === "all" && d.source.allocated ? await d.source.allocated(request.signal) : undefined;
      const areas = d.changed !== "all" ? d.changed : (allocated ?? [{ start: 0, length: d.capacity }]);
      for (const area of areas) {
        for (let off = area.start; off < area.start + area.length; off += PIECE) {
          request.signal?.throwIfAborted();
          const piece = new Uint8Array(Math.min(PIECE, area.start + area.length - off));
          const n = await d.source.read(piece, off, request.signal);
          data.set(piece.subarray(0, n), off);
          bytesRead += n;
          request.onProgress?.(n);
        }
      }
      disks.set(d.key, { capacity: d.capacity, changeId: d.changeId, data, fullReason: d.fullReason });
    }
    const id = `point-${this.#next++}`;
    this.points.push({
      id,
      machine: request.machine,
      parent: request.parent,
      takenAt: request.takenAt,
      consistency: request.consistency,
      references: request.references ?? [],
      disks,
    });
    return { id, machineId: request.machine.id, bytesRead, bytesStored: bytesRead };
  }

  async latestPoint(machineId: string): Promise<LatestPoint | undefined> {
    const p = this.points.filter((x) => x.machine.id === machineId).at(-1);
    if (!p) return undefined;
    return {
      id: p.id,
      takenAt: p.takenAt,
      disks: [...p.disks].map(([key, d]) => ({ key, capacity: d.capacity, changeId: d.changeId })),
    };
  }

  /** Latest point per machine id, as the controller passes it to the planner. */
  async latestAll(): Promise<Map<string, LatestPoint>> {
    const out = new Map<string, LatestPoint>();
    for (const id of new Set(this.points.map((p) => p.machine.id))) {
      const l = await this.latestPoint(id);
      if (l) out.set(id, l);
    }
    return out;
  }
}
