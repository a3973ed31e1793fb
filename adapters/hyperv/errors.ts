/**
 * Coded errors of the Hyper-V adapter. Callers match on `code`; docs/hyperv.md keeps the table.
 */
import { SnapvisorError } from "../../src/domain/errors.js";

export type HypervErrorCode =
  /** Invalid adapter configuration (transport, credentials, host key). */
  | "HYPERV_CONFIG_INVALID"
  /** The PowerShell process or the SSH connection failed (retryable). */
  | "HYPERV_TRANSPORT"
  /** A PowerShell call did not answer in time; the shell was recycled (retryable). */
  | "HYPERV_TIMEOUT"
  /** The SSH host key does not match the pinned SHA-256 fingerprint. */
  | "HYPERV_HOST_KEY_MISMATCH"
  /** SSH authentication was refused. */
  | "HYPERV_AUTH_FAILED"
  /** The host's answer is not the JSON document the script writes, or does not match its schema. */
  | "HYPERV_BAD_OUTPUT"
  /** The script failed inside PowerShell (the error id and message are in details). */
  | "HYPERV_SCRIPT_FAILED"
  /** The VM is not on the host/cluster (or not on the node that should own it). */
  | "HYPERV_VM_NOT_FOUND"
  /** The cluster node that owns the VM is down or unreachable. */
  | "HYPERV_NODE_DOWN"
  /** The VM's state forbids the operation (Critical states, offline cluster group). */
  | "HYPERV_VM_STATE"
  /** A WMI job ended in error (ErrorCode / ErrorDescription in details). */
  | "HYPERV_JOB_FAILED"
  /** A WMI job did not finish within the polling budget. */
  | "HYPERV_JOB_TIMEOUT"
  /** An application-consistent checkpoint failed and the policy forbids falling back. */
  | "HYPERV_QUIESCE_FAILED"
  /** Removing or converting a checkpoint failed (the disk merge did not complete). */
  | "HYPERV_CHECKPOINT_MERGE_FAILED"
  /** Shared VHD Sets (.vhds) are not supported for host-level backup. */
  | "HYPERV_VHDS_UNSUPPORTED"
  /** A shared VHDX whose VMs are in no VM collection cannot be checkpointed from the host. */
  | "HYPERV_SHARED_DISK_NO_COLLECTION"
  /** A disk key or file is unknown on the checkpoint. */
  | "HYPERV_DISK_NOT_FOUND"
  /** GetVirtualDiskChanges failed in a way that is not a tracking reset. */
  | "HYPERV_RCT_FAILED"
  /** The operation was aborted through its AbortSignal. */
  | "HYPERV_ABORTED";

export type HypervError = SnapvisorError<HypervErrorCode>;

export function hypervError(
  code: HypervErrorCode,
  message: string,
  options: { cause?: unknown; retryable?: boolean; details?: Record<string, unknown> } = {},
): HypervError {
  return new SnapvisorError(code, message, options);
}

export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw hypervError("HYPERV_ABORTED", `${what} was aborted`, { cause: signal.reason });
}
