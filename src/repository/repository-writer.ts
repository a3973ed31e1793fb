import { createHash } from "node:crypto";
import type {
  LatestPoint,
  PointSummary,
  RepositoryWriter,
  WritePointRequest,
} from "../domain/repository-port.js";
import { isValidSegment } from "./ids.js";
import type { Repository } from "./repository.js";
import { writePoint } from "./writer.js";

/**
 * Machine ids as the controller knows them (VM UUIDs, or `shared:<cluster>:<path>` for a shared
 * VHDX) made into repository path segments: ids that are safe already stay as they are, others
 * become a stable digest; the original id is kept on the manifest (`tags.machineKey`).
 */
export function repositoryMachineId(id: string): string {
  if (isValidSegment(id)) return id;
  return `x-${createHash("sha256").update(id, "utf8").digest("hex").slice(0, 32)}`;
}

/**
 * The repository behind the controller's RepositoryWriter port. A disk stored as another machine's
 * point (a shared VHDX) is listed in the manifest's `references`; the job id is tag `job`.
 */
export function repositoryWriter(repo: Repository, options: { now?: () => Date } = {}): RepositoryWriter {
  return {
    async writePoint(request: WritePointRequest): Promise<PointSummary> {
      const machineId = repositoryMachineId(request.machine.id);
      const done = new Map<string, number>();
      const { ref, manifest } = await writePoint(repo, {
        machine: { id: machineId, name: request.machine.name, hypervisor: request.machine.hypervisor },
        disks: request.disks.map((d) => ({
          key: d.key,
          capacity: d.capacity,
          source: d.source,
          changed: d.changed,
          changeId: d.changeId ?? null,
          ...(d.fullReason ? { fullReason: d.fullReason } : {}),
        })),
        parent: request.parent ?? null,
        consistency: request.consistency,
        snapshotAt: request.takenAt,
        tags: {
          job: request.jobId,
          kind: request.machine.kind,
          ...(machineId === request.machine.id ? {} : { machineKey: request.machine.id }),
        },
        references: (request.references ?? []).map((r) => ({
          ...r,
          machineId: repositoryMachineId(r.machineId),
        })),
        ...(request.signal ? { signal: request.signal } : {}),
        ...(options.now ? { now: options.now } : {}),
        onProgress: ({ disk, bytesDone }) => {
          // The engine reports a running total per disk; the port wants increments.
          const delta = bytesDone - (done.get(disk) ?? 0);
          done.set(disk, bytesDone);
          if (delta > 0) request.onProgress?.(delta);
        },
      });
      return {
        id: ref.pointId,
        machineId: request.machine.id,
        bytesRead: manifest.stats.bytesRead,
        bytesStored: manifest.stats.bytesStored,
      };
    },

    async latestPoint(machineId: string): Promise<LatestPoint | undefined> {
      const ref = await repo.latestPoint(repositoryMachineId(machineId));
      if (!ref) return undefined;
      const m = await repo.readManifest(ref);
      return {
        id: m.id,
        takenAt: new Date(m.snapshotAt),
        disks: m.disks.map((d) => ({ key: d.key, capacity: d.capacity, changeId: d.changeId ?? undefined })),
      };
    },
  };
}
