/**
 * Waiting for WMI jobs (return code 4096): poll Msvm_ConcreteJob on the node that started it, with an
 * injected sleep (tests never wait on the wall clock) and a bounded number of polls.
 */
import { hypervError, throwIfAborted } from "./errors.js";
import { JOB_COMPLETED, JOB_RUNNING } from "./parse.js";
import { pollJob, runScript } from "./scripts.js";
import type { PsTransport } from "./transport.js";

export interface JobWaitOptions {
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly pollMs: number;
  readonly maxPolls: number;
}

export interface JobResult {
  readonly snapshotIds: readonly string[];
  readonly referencePointIds: readonly string[];
}

export class JobFailure extends Error {
  constructor(
    readonly errorCode: number,
    readonly description: string,
    readonly jobState: number,
  ) {
    super(description);
  }
}

/** Polls until the job leaves the running states; a failed job throws JobFailure (for the caller to map). */
export async function waitForJob(
  transport: PsTransport,
  node: string,
  jobId: string,
  what: string,
  options: JobWaitOptions,
  signal?: AbortSignal,
): Promise<JobResult> {
  for (let poll = 0; poll < options.maxPolls; poll++) {
    throwIfAborted(signal, what);
    const job = await runScript(transport, pollJob, { node, jobId }, signal);
    if (!job.Found)
      throw hypervError("HYPERV_JOB_FAILED", `${what}: job ${jobId} disappeared from node ${node}`);
    if (!JOB_RUNNING.has(job.JobState)) {
      if (job.JobState !== JOB_COMPLETED)
        throw new JobFailure(job.ErrorCode, job.ErrorDescription, job.JobState);
      return { snapshotIds: job.SnapshotIds, referencePointIds: job.ReferencePointIds };
    }
    await options.sleep(options.pollMs, signal);
  }
  throw hypervError(
    "HYPERV_JOB_TIMEOUT",
    `${what}: job ${jobId} on node ${node} still running after ${options.maxPolls} polls`,
    { retryable: true, details: { node, jobId } },
  );
}

/** Maps a method's start: 0 = done, 4096 = job to wait for, anything else = WMI error code. */
export async function completeMethod(
  transport: PsTransport,
  node: string,
  start: { ReturnValue: number | null; JobId: string },
  what: string,
  options: JobWaitOptions,
  signal?: AbortSignal,
): Promise<JobResult> {
  if (start.ReturnValue === 0) return { snapshotIds: [], referencePointIds: [] };
  if (start.ReturnValue === 4096) return waitForJob(transport, node, start.JobId, what, options, signal);
  throw new JobFailure(start.ReturnValue ?? -1, `${what} returned ${start.ReturnValue ?? "nothing"}`, 0);
}
