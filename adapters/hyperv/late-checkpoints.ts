/**
 * A CreateSnapshot job that outlives our polling budget still makes its recovery checkpoint later,
 * and without our name (the adapter names a checkpoint after its job completes), so the sweep by
 * name would never find it. The session keeps such jobs here: it waits a short while more for one
 * at once and destroys what it made; a job still running then is looked at again by each later
 * `removeLeftovers` of the VM (every run sweeps before it snapshots), until it ends.
 * Kept in memory: a process that exits first leaves the late checkpoint to the admin (logged).
 */
export interface LateJob {
  readonly node: string;
  readonly jobId: string;
  readonly vmId: string;
  readonly what: string;
}

export class LateCheckpoints {
  #jobs: LateJob[] = [];

  add(job: LateJob): void {
    this.#jobs.push(job);
  }

  of(vmId: string): readonly LateJob[] {
    return this.#jobs.filter((j) => j.vmId.toLowerCase() === vmId.toLowerCase());
  }

  done(job: LateJob): void {
    this.#jobs = this.#jobs.filter((j) => j !== job);
  }

  get size(): number {
    return this.#jobs.length;
  }
}

/** Polls spent on a timed-out CreateSnapshot before the error is reported (~1 min at 500 ms). */
export const RECLAIM_POLLS = 120;
