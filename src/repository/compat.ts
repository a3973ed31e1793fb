import { BlobFormatError, BlobKind } from "./blob.js";
import { repoError } from "./errors.js";
import type { Repository } from "./repository.js";

const FINGERPRINT_INPUT = Buffer.from("snapvisor/key-fingerprint/v1", "utf8");
const PROBE_NAME = "snapvisor/key-probe";

/**
 * A fingerprint of the chunk-id key: the chunk id of a fixed string (HMAC-SHA256 under the id key
 * when encrypted, plain SHA-256 otherwise). Equal fingerprints mean equal chunk names for equal data,
 * which is what replication and seed drives rely on; it reveals nothing about the key itself.
 */
export function keyFingerprint(repo: Repository): string {
  return repo.chunkId(FINGERPRINT_INPUT).subarray(0, 16).toString("hex");
}

/** What two repositories must share for blobs to move between them unchanged. */
export interface ChunkScheme {
  readonly chunkSize: number;
  readonly chunkId: "sha256" | "hmac-sha256";
  readonly keyFingerprint: string;
}

export function chunkScheme(repo: Repository): ChunkScheme {
  return { chunkSize: repo.chunkSize, chunkId: repo.config.chunkId, keyFingerprint: keyFingerprint(repo) };
}

/**
 * Refuses (REPLICATION_INCOMPATIBLE, KEY_MISMATCH) when data from a repository or seed with scheme
 * `from` cannot land in `target` as stored. Pure.
 */
export function checkScheme(from: ChunkScheme, target: Repository, what: string, where: string): void {
  const to = chunkScheme(target);
  const fix = `create the target with "snapvisor repo init DIR --like SOURCE"`;
  if (from.chunkSize !== to.chunkSize) {
    throw repoError(
      "REPLICATION_INCOMPATIBLE",
      `${what} uses ${from.chunkSize}-byte chunks but repository ${where} uses ${to.chunkSize}: ${fix}`,
      { details: { from: from.chunkSize, to: to.chunkSize } },
    );
  }
  if (from.chunkId !== to.chunkId) {
    throw repoError(
      "REPLICATION_INCOMPATIBLE",
      `${what} names chunks by ${from.chunkId} but repository ${where} by ${to.chunkId} (one is encrypted, the other not): ${fix}`,
      { details: { from: from.chunkId, to: to.chunkId } },
    );
  }
  if (from.keyFingerprint !== to.keyFingerprint) {
    throw repoError(
      "KEY_MISMATCH",
      `${what} is encrypted under another key than repository ${where} (key fingerprint ${from.keyFingerprint}, target ${to.keyFingerprint}): ${fix}`,
      { details: { from: from.keyFingerprint, to: to.keyFingerprint } },
    );
  }
}

/**
 * Checks that `target` can replicate from `source`: different repositories, same chunk scheme, and
 * (encrypted) the same data key, proven by opening in the target a blob sealed by the source.
 */
export async function checkReplicable(source: Repository, target: Repository, where: string): Promise<void> {
  if (source.config.id === target.config.id) {
    throw repoError(
      "SAME_REPOSITORY",
      `Source and target are the same repository (${source.config.id}); replicate to another repository`,
    );
  }
  checkScheme(chunkScheme(source), target, `Source repository ${source.config.id}`, where);
  const probe = await source.codec.seal(BlobKind.manifest, PROBE_NAME, FINGERPRINT_INPUT);
  try {
    await target.codec.open(BlobKind.manifest, PROBE_NAME, Buffer.concat(probe));
  } catch (err) {
    if (!(err instanceof BlobFormatError)) throw err;
    throw repoError(
      "KEY_MISMATCH",
      `Repository ${where} cannot open data sealed by source ${source.config.id}: same chunk-id key but another data key`,
      { cause: err },
    );
  }
}
