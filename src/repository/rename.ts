import type { DiskIndex } from "./index-format.js";
import type { Manifest } from "./manifest.js";
import type { PointRef, Repository } from "./repository.js";

/**
 * A point stored under another machine id (a replication prefix) cannot keep its blobs as they are:
 * the manifest names its machine, and sealed blobs are bound to their object name. The indexes and
 * manifest are sealed anew with the target's keys; the chunks, named by content, are unaffected.
 */
export async function sealRenamed(
  target: Repository,
  manifest: Manifest,
  indexes: readonly { disk: string; index: DiskIndex }[],
  to: PointRef,
  prefix: string,
): Promise<{ indexes: { key: string; blob: Buffer[] }[]; manifest: { key: string; blob: Buffer[] } }> {
  const sealed: { key: string; blob: Buffer[] }[] = [];
  for (const ix of indexes) {
    const { key, blob } = await target.sealIndex(to, ix.disk, ix.index);
    sealed.push({ key, blob });
  }
  const renamed: Manifest = {
    ...manifest,
    machine: { ...manifest.machine, id: to.machineId },
    tags: { ...manifest.tags, "replicated-from-machine": manifest.machine.id },
    references: manifest.references.map((r) => ({ ...r, machineId: `${prefix}${r.machineId}` })),
  };
  return { indexes: sealed, manifest: await target.sealManifest(renamed) };
}
