/**
 * `RepositoryWriter` over the repository engine (src/repository): the job's port mapped onto
 * `writePoint()` and the manifests. References to shared-disk points and the job id travel as
 * manifest tags (`job`, `kind`, `ref.<diskKey>` = `<machineId>/<pointId>`).
 */
import type {
  LatestPoint,
  PointSummary,
  RepositoryWriter,
  WritePointRequest,
} from "../domain/repository-port.js";
import type { Repository } from "../repository/repository.js";
import { writePoint } from "../repository/writer.js";

export function repositoryWriter(repo: Repository, options: { now?: () => Date } = {}): RepositoryWriter {
  return {
    async writePoint(request: WritePointRequest): Promise<PointSummary> {
      const done = new Map<string, number>();
      const tags: Record<string, string> = { job: request.jobId, kind: request.machine.kind };
      for (const r of request.references ?? []) tags[`ref.${r.key}`] = `${r.machineId}/${r.pointId}`;
      const { ref, manifest } = await writePoint(repo, {
        machine: {
          id: request.machine.id,
          name: request.machine.name,
          hypervisor: request.machine.hypervisor,
        },
        disks: request.disks.map((d) => ({
          key: d.key,
          capacity: d.capacity,
          source: d.source,
          changed: d.changed,
          changeId: d.changeId ?? null,
          ...(d.fullReason !== "" ? { fullReason: d.fullReason } : {}),
        })),
        // No incremental disk: a base point, whatever the machine's latest point is.
        parent: request.parent ?? null,
        consistency: request.consistency,
        snapshotAt: request.takenAt,
        tags,
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
        machineId: ref.machineId,
        bytesRead: manifest.stats.bytesRead,
        bytesStored: manifest.stats.bytesStored,
      };
    },

    async latestPoint(machineId: string): Promise<LatestPoint | undefined> {
      const ref = await repo.latestPoint(machineId);
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
