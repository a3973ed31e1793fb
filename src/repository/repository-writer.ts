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

/** The repository behind the controller's RepositoryWriter port. */
export function repositoryWriter(repo: Repository): RepositoryWriter {
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
          unchangedFrom: d.unchangedFrom,
          changeId: d.changeId ?? null,
          ...(d.fullReason ? { fullReason: d.fullReason } : {}),
        })),
        parent: request.parent ?? null,
        consistency: request.consistency,
        snapshotAt: request.takenAt,
        tags: { jobId: request.jobId, machineKey: request.machine.id, machineKind: request.machine.kind },
        references: (request.references ?? []).map((r) => ({
          ...r,
          machineId: repositoryMachineId(r.machineId),
        })),
        ...(request.signal ? { signal: request.signal } : {}),
        onProgress: ({ disk, bytesDone }) => {
          done.set(disk, bytesDone);
          request.onProgress?.([...done.values()].reduce((a, b) => a + b, 0));
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
