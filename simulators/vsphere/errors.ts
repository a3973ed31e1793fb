import { SnapvisorError } from "../../src/domain/errors.js";

/** Stable codes of the simulators' own failures (bad scenario files, disk I/O, start-up). */
export type VsphereSimErrorCode =
  | "VSIM_SCENARIO_UNREADABLE"
  | "VSIM_SCENARIO_INVALID"
  | "VSIM_DISK_IO"
  | "VSIM_CERT"
  | "VSIM_START_FAILED"
  | "VSIM_SSH_KEY";

export function simError(
  code: VsphereSimErrorCode,
  message: string,
  options: { cause?: unknown; details?: Record<string, unknown> } = {},
): SnapvisorError<VsphereSimErrorCode> {
  return new SnapvisorError(code, message, options);
}
