import { keys, type PointRef, type Repository } from "./repository.js";
import { listIncoming, loadOrigin } from "./replication-state.js";

export interface PointCompleteness {
  readonly ref: PointRef;
  /** Distinct chunks the point's indexes name that the repository lacks; 0 means restorable. */
  readonly missing: number;
}

/**
 * How many chunks each point lacks. A point with any is orphaned: replicated before its base (seed
 * drive still to come, `--since`), listed but not restorable. Each distinct chunk is looked up once
 * however many points share it.
 */
export async function checkCompleteness(
  repo: Repository,
  refs: readonly PointRef[],
  options: { signal?: AbortSignal; concurrency?: number } = {},
): Promise<PointCompleteness[]> {
  const perPoint: { ref: PointRef; ids: Set<string> }[] = [];
  const all = new Set<string>();
  for (const ref of refs) {
    const manifest = await repo.readManifest(ref);
    const ids = new Set<string>();
    for (const d of manifest.disks)
      for (const hex of (await repo.readIndex(manifest, d.key)).uniqueIds()) ids.add(hex);
    for (const hex of ids) all.add(hex);
    perPoint.push({ ref, ids });
  }
  const queue = [...all];
  const absent = new Set<string>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < queue.length) {
      options.signal?.throwIfAborted();
      const hex = queue[next++]!;
      if (!(await repo.storage.stat(keys.chunk(hex)))) absent.add(hex);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 16 }, worker));
  return perPoint.map(({ ref, ids }) => {
    let missing = 0;
    for (const hex of ids) if (absent.has(hex)) missing++;
    return { ref, missing };
  });
}

/**
 * Machines whose points may be incomplete: those that arrived by replication or seed drive. Points a
 * backup wrote here are complete by construction (their chunks land before their manifest); `verify`
 * is the check for damage.
 */
export async function replicatedMachines(
  repo: Repository,
  machines: readonly string[],
): Promise<Set<string>> {
  const out = new Set<string>();
  const incoming = await listIncoming(repo.storage);
  for (const m of machines) {
    if (incoming.some((r) => r.machines.includes(m)) || (await loadOrigin(repo.storage, m))) out.add(m);
  }
  return out;
}

/** Completeness of the points of replicated machines (or of every point with `all`), keyed "machine/point". */
export async function orphanReport(
  repo: Repository,
  refs: readonly PointRef[],
  options: { all?: boolean; signal?: AbortSignal } = {},
): Promise<Map<string, number>> {
  const replicated = options.all
    ? undefined
    : await replicatedMachines(repo, [...new Set(refs.map((r) => r.machineId))]);
  const checked = refs.filter((r) => !replicated || replicated.has(r.machineId));
  const result = await checkCompleteness(repo, checked, options.signal ? { signal: options.signal } : {});
  return new Map(result.map((r) => [`${r.ref.machineId}/${r.ref.pointId}`, r.missing]));
}
