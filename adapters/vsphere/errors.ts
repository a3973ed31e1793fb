/**
 * Error codes of the vSphere adapter. Every throwable leaving the adapter is a `SnapvisorError` with
 * one of these codes; SOAP faults are classified in `soap/fault.ts`, transport failures in
 * `soap/transport.ts`. The table with meanings is in docs/vsphere.md.
 */
import { SnapvisorError } from "../../src/domain/errors.js";

export type VsphereErrorCode =
  | "VSPHERE_CONFIG_INVALID"
  | "VSPHERE_TLS_UNTRUSTED"
  | "VSPHERE_UNREACHABLE"
  | "VSPHERE_HTTP_STATUS"
  | "VSPHERE_BAD_ANSWER"
  | "VSPHERE_NOT_AUTHENTICATED"
  | "VSPHERE_INVALID_LOGIN"
  | "VSPHERE_NO_PERMISSION"
  | "VSPHERE_TASK_IN_PROGRESS"
  | "VSPHERE_FILE_FAULT"
  | "VSPHERE_QUIESCE_FAILED"
  | "VSPHERE_SNAPSHOT_FAULT"
  | "VSPHERE_INVALID_STATE"
  | "VSPHERE_NOT_FOUND"
  | "VSPHERE_NOT_IMPLEMENTED"
  | "VSPHERE_INVALID_ARGUMENT"
  | "VSPHERE_HOST_COMMUNICATION"
  | "VSPHERE_FAULT"
  | "VSPHERE_TASK_TIMEOUT"
  | "VSPHERE_ABORTED"
  | "VSPHERE_CBT_UNAVAILABLE"
  | "VSPHERE_CBT_INCONSISTENT"
  | "VSPHERE_CONSOLIDATION_FAILED"
  | "VSPHERE_DISK_NOT_FOUND"
  | "VSPHERE_DISK_UNSUPPORTED"
  | "VSPHERE_READ_FAILED"
  | "VSPHERE_SSH_HOST_KEY_MISMATCH"
  | "VSPHERE_SSH_FAILED";

export type VsphereError = SnapvisorError<VsphereErrorCode>;

export function vsphereError(
  code: VsphereErrorCode,
  message: string,
  options: { cause?: unknown; retryable?: boolean; details?: Record<string, unknown> } = {},
): VsphereError {
  return new SnapvisorError(code, message, options);
}

/** Throws VSPHERE_ABORTED when `signal` is aborted; keeps the abort reason as cause. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted === true) {
    throw vsphereError("VSPHERE_ABORTED", `${what} was aborted`, { cause: signal.reason });
  }
}
