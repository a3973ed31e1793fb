/**
 * What a backup job reports: one outcome per VM and per shared disk, and the exit verdict
 * (0 ok, 1 something failed or was aborted, 3 done with warnings).
 */
import type { ConsistencyRecord } from "../domain/ports.js";
import type { PointSummary } from "../domain/repository-port.js";
import type { GroupChanges } from "./plan.js";

export type OutcomeStatus = "ok" | "warning" | "failed" | "skipped" | "aborted";

export interface DiskOutcome {
  readonly key: string;
  readonly capacity: number;
  readonly mode: "incremental" | "full";
  /** Why the disk was read in full ("" for an incremental). */
  readonly reason: string;
  /** Bytes the job asked the repository to read (changed or allocated areas). */
  readonly bytesToRead: number;
}

export interface ObjectOutcome {
  /** `source`: a vSphere endpoint or Hyper-V host/cluster whose inventory failed. */
  readonly kind: "vm" | "shared-disk" | "source";
  /** VM id, shared-disk id or source name. */
  readonly id: string;
  readonly name: string;
  readonly group: string | undefined;
  readonly status: OutcomeStatus;
  /** Sentences for the summary: warnings, reasons, the error. */
  readonly messages: readonly string[];
  readonly consistency?: ConsistencyRecord;
  readonly point?: PointSummary;
  readonly disks: readonly DiskOutcome[];
  /** Stable code of the error when failed/aborted. */
  readonly errorCode?: string;
  /** Our leftover snapshots removed before this run. */
  readonly leftoversRemoved: readonly string[];
}

export interface JobSummary {
  readonly jobId: string;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly outcomes: readonly ObjectOutcome[];
  readonly changes: readonly GroupChanges[];
  readonly exitCode: 0 | 1 | 3;
}

/** 1 when anything failed or was aborted, else 3 when anything warned, else 0. */
export function exitCodeOf(outcomes: readonly Pick<ObjectOutcome, "status">[]): 0 | 1 | 3 {
  if (outcomes.some((o) => o.status === "failed" || o.status === "aborted")) return 1;
  if (outcomes.some((o) => o.status === "warning")) return 3;
  return 0;
}

/** Totals for the last line of the summary. */
export function totals(
  summary: JobSummary,
): Record<OutcomeStatus, number> & { bytesRead: number; bytesStored: number } {
  const t = { ok: 0, warning: 0, failed: 0, skipped: 0, aborted: 0, bytesRead: 0, bytesStored: 0 };
  for (const o of summary.outcomes) {
    t[o.status]++;
    t.bytesRead += o.point?.bytesRead ?? 0;
    t.bytesStored += o.point?.bytesStored ?? 0;
  }
  return t;
}
