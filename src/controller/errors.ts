import { SnapvisorError } from "../domain/errors.js";

/** Stable codes of the controller (config, schedules, jobs); the table is in docs/controller.md. */
export type ControllerErrorCode =
  /** A group or VM named on the command line does not exist (exit 2). */
  | "USAGE"
  /** The config file does not match the schema; `details.issues` lists every problem. */
  | "CONFIG_INVALID"
  /** The config file cannot be read or is not well-formed YAML/JSON. */
  | "CONFIG_UNREADABLE"
  /** A secret's environment variable is unset or its file cannot be read. */
  | "SECRET_UNAVAILABLE"
  /** A schedule string does not follow the grammar, or its time zone is unknown. */
  | "SCHEDULE_INVALID"
  /** A job history line (not the last) is not a valid record. */
  | "HISTORY_INVALID"
  /** The consistency policy cannot be met (before or after the snapshot). */
  | "CONSISTENCY_NOT_MET"
  /** The job was aborted (SIGINT/SIGTERM) before this VM finished. */
  | "JOB_ABORTED"
  /** The plan excluded the VM, or a step failed in a way the adapter did not classify. */
  | "VM_FAILED";

export class ControllerError extends SnapvisorError<ControllerErrorCode> {}
