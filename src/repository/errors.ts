import { SnapvisorError } from "../domain/errors.js";

/** Stable codes of repository errors (README "Error codes"). */
export type RepositoryErrorCode =
  | "NOT_A_REPOSITORY"
  | "REPO_EXISTS"
  | "CONFIG_CORRUPT"
  | "FORMAT_TOO_NEW"
  | "PASSPHRASE_REQUIRED"
  | "WRONG_PASSPHRASE"
  | "INVALID_ID"
  | "EXTENTS_INVALID"
  | "POINT_NOT_FOUND"
  | "DISK_NOT_FOUND"
  | "MANIFEST_CORRUPT"
  | "INDEX_CORRUPT"
  | "CHUNK_CORRUPT"
  | "CHUNK_MISSING"
  | "POINT_ORPHANED"
  | "NO_SPACE"
  | "STORAGE_IO"
  | "LOCKED"
  | "LOCK_STALE"
  | "SOURCE_READ"
  | "USAGE";

export function repoError(
  code: RepositoryErrorCode,
  message: string,
  options: { cause?: unknown; retryable?: boolean; details?: Record<string, unknown> } = {},
): SnapvisorError<RepositoryErrorCode> {
  return new SnapvisorError(code, message, options);
}
