import { BlobKind } from "./blob.js";
import { repoError } from "./errors.js";
import type { DiskIndex } from "./index-format.js";
import { manifestSchema, type Manifest } from "./manifest.js";
import type { PointRef, Repository } from "./repository.js";

/**
 * Checks on blobs arriving in a repository from elsewhere (a replication source, a seed drive)
 * before they are stored as they are: each is opened with the target's own keys, so a blob that
 * is damaged, truncated or sealed under another key never lands.
 */

/** Opens a chunk blob and checks that its plaintext has the id it is stored under. */
export async function checkChunkBlob(
  target: Repository,
  hex: string,
  blob: Buffer,
  from: string,
): Promise<number> {
  // The blob itself is stored afterwards: the worker gets a copy.
  return (await target.openChunk(hex, Buffer.from(blob), from)).length;
}

/** Opens a manifest blob stored under `key` and checks it is the manifest of `ref`. */
export async function openManifestBlob(
  target: Repository,
  ref: PointRef,
  key: string,
  blob: Buffer,
  from: string,
): Promise<Manifest> {
  let json: unknown;
  try {
    json = JSON.parse((await target.codec.open(BlobKind.manifest, key, blob)).toString("utf8"));
  } catch (err) {
    throw repoError(
      "MANIFEST_CORRUPT",
      `Manifest of point ${ref.pointId} from ${from} is corrupt: ${(err as Error).message}`,
      {
        cause: err,
        details: { ...ref, from },
      },
    );
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success || parsed.data.id !== ref.pointId || parsed.data.machine.id !== ref.machineId) {
    throw repoError(
      "MANIFEST_CORRUPT",
      `Manifest of point ${ref.pointId} from ${from} does not match the manifest schema`,
      {
        details: { ...ref, from },
      },
    );
  }
  if (parsed.data.chunkSize !== target.chunkSize) {
    throw repoError(
      "REPLICATION_INCOMPATIBLE",
      `Point ${ref.pointId} from ${from} has ${parsed.data.chunkSize}-byte chunks, the target ${target.chunkSize}`,
    );
  }
  return parsed.data;
}

/** Opens an index blob and checks it is the one `manifest` names for `diskKey`. */
export async function openIndexBlob(
  target: Repository,
  manifest: Manifest,
  diskKey: string,
  key: string,
  blob: Buffer,
  from: string,
): Promise<DiskIndex> {
  return target.decodeIndex(manifest, diskKey, key, blob, from);
}
