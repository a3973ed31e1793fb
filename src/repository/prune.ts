import { selectForRetention, type RetentionDecision, type RetentionPolicy } from "../domain/retention.js";
import { keys, type PointRef, type Repository } from "./repository.js";

export interface PrunePlan {
  readonly machineId: string;
  readonly decisions: readonly (RetentionDecision & { ref: PointRef })[];
}

/** Applies the policy to each machine's points separately; pure apart from reading manifests. */
export async function planPrune(
  repo: Repository,
  policy: RetentionPolicy,
  now: Date,
  options: { machineId?: string; timeZone?: string } = {},
): Promise<PrunePlan[]> {
  const refs = await repo.listPoints(options.machineId);
  const byMachine = new Map<string, { ref: PointRef; time: Date }[]>();
  for (const ref of refs) {
    const manifest = await repo.readManifest(ref);
    const list = byMachine.get(ref.machineId) ?? [];
    list.push({ ref, time: new Date(manifest.snapshotAt) });
    byMachine.set(ref.machineId, list);
  }
  return [...byMachine].map(([machineId, points]) => {
    const byId = new Map(points.map((p) => [p.ref.pointId, p.ref]));
    const decisions = selectForRetention(
      points.map((p) => ({ id: p.ref.pointId, time: p.time })),
      policy,
      now,
      options.timeZone,
    );
    return { machineId, decisions: decisions.map((d) => ({ ...d, ref: byId.get(d.id)! })) };
  });
}

/**
 * Deletes the points the plan removes: the manifest first (the point is gone from then on), then its
 * indexes. Chunks are left to `gc`. The caller holds the exclusive `prune` lock.
 */
export async function applyPrune(repo: Repository, plans: readonly PrunePlan[]): Promise<PointRef[]> {
  const removed: PointRef[] = [];
  for (const plan of plans) {
    for (const d of plan.decisions) {
      if (d.keep) continue;
      await repo.storage.delete(keys.manifest(d.ref));
      await repo.storage.flush();
      for await (const o of repo.storage.list(keys.pointDir(d.ref))) await repo.storage.delete(o.key);
      removed.push(d.ref);
    }
  }
  await repo.storage.flush();
  return removed;
}
