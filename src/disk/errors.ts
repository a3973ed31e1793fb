/**
 * Coded errors of the disk-format layer (VMDK, VHDX, raw images). Callers match on `code`; the table
 * of codes with their meaning is in docs/disk-formats.md.
 */
import { SnapvisorError } from "../domain/errors.js";

export type DiskErrorCode =
  /** The file could not be opened, read or written (ENOENT, EACCES, EIO...). */
  | "DISK_IO"
  /** A read or write past the end of the virtual disk or of the byte source. */
  | "DISK_OUT_OF_RANGE"
  /** The file's signature matches no supported format, or the format is known but not supported. */
  | "DISK_FORMAT_UNSUPPORTED"
  /** The operation was aborted through its AbortSignal. */
  | "DISK_ABORTED"
  /** VMDK text descriptor missing, garbled or inconsistent. */
  | "VMDK_DESCRIPTOR_INVALID"
  /** VMDK extent file name that escapes the descriptor's directory, or an unreadable extent. */
  | "VMDK_EXTENT_INVALID"
  /** Sparse extent header, grain directory or grain table inconsistent with the file. */
  | "VMDK_SPARSE_INVALID"
  /** A compressed grain that does not inflate to a grain. */
  | "VMDK_GRAIN_INVALID"
  /** Delta disks (vmfsSparse, seSparse) and disks with a parent are refused. */
  | "VMDK_DELTA_UNSUPPORTED"
  /** VHDX file identifier, headers (signature, CRC-32C, version) invalid. */
  | "VHDX_HEADER_INVALID"
  /** VHDX region table invalid, or an unknown required region. */
  | "VHDX_REGION_INVALID"
  /** VHDX metadata table or a metadata item invalid, or an unknown required item. */
  | "VHDX_METADATA_INVALID"
  /** VHDX block allocation table inconsistent with the file (truncated, entries past its end). */
  | "VHDX_BAT_INVALID"
  /** The VHDX log holds entries to replay (LogGuid non-zero): the file was not closed cleanly. */
  | "VHDX_LOG_REPLAY_REQUIRED"
  /** The parent of a differencing VHDX cannot be found, or its DataWriteGuid does not match. */
  | "VHDX_PARENT_INVALID"
  /** VHD (v1) footer, dynamic header, BAT or parent chain invalid. */
  | "VHD_INVALID"
  /** Invalid options given to a writer (sizes, block sizes, sector sizes). */
  | "DISK_WRITE_INVALID";

export type DiskError = SnapvisorError<DiskErrorCode>;

export function diskError(
  code: DiskErrorCode,
  message: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): DiskError {
  return new SnapvisorError(code, message, {
    details,
    ...(cause === undefined ? {} : { cause }),
    retryable: code === "DISK_IO" && isTransientIo(cause),
  });
}

function isTransientIo(cause: unknown): boolean {
  const code = (cause as { code?: unknown } | undefined)?.code;
  return code === "EAGAIN" || code === "EBUSY" || code === "EIO" || code === "ETIMEDOUT";
}

/** Throws DISK_ABORTED when the signal is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted === true) {
    throw diskError("DISK_ABORTED", `${what} aborted`, {}, signal.reason);
  }
}
