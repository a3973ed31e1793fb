/**
 * The scheduler behind `snapvisor run`: a pure `dueGroups()` decides which groups start now and
 * when to look again; `runScheduler()` is the thin loop around it, with the clock, the sleep and the
 * job runner injected. One job per group at a time; groups run in parallel under the shared limiter.
 */
import type { ProtectionGroup } from "./config-schema.js";
import type { JobSummary } from "./job-summary.js";
import { nextRun } from "./schedule.js";

export interface DueGroups {
  /** Groups whose next run is at or before `now` and that are not running. */
  readonly due: readonly string[];
  /** Earliest future run among the others; undefined when only manual groups remain. */
  readonly nextWake: Date | undefined;
}

export function dueGroups(
  groups: readonly ProtectionGroup[],
  lastRuns: ReadonlyMap<string, Date>,
  running: ReadonlySet<string>,
  now: Date,
): DueGroups {
  const due: string[] = [];
  let nextWake: Date | undefined;
  for (const g of groups) {
    if (running.has(g.name)) continue;
    const next = nextRun(g.policy.schedule, lastRuns.get(g.name), now);
    if (next === undefined) continue;
    if (next.getTime() <= now.getTime()) due.push(g.name);
    else if (!nextWake || next < nextWake) nextWake = next;
  }
  return { due, nextWake };
}

export interface SchedulerOptions {
  readonly groups: readonly ProtectionGroup[];
  /** Last start per group (from the job history). Updated in place as jobs start. */
  readonly lastRuns: Map<string, Date>;
  readonly clock: { now(): Date };
  /** Waits `ms`, or less when `signal` aborts (a job ended, or the scheduler stops); may reject on abort. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  /** Runs one group's cycle; must not throw (failures are in the summary). */
  runGroup(group: string, signal: AbortSignal): Promise<JobSummary>;
  /** Hooks after each job: history append, replication trigger. Errors are reported, not fatal. */
  onJobDone?(group: string, summary: JobSummary): Promise<void>;
  onHookError?(group: string, err: unknown): void;
  readonly signal: AbortSignal;
}

/** Longest sleep, so a clock jump (suspend, NTP step) is noticed within the hour. */
const MAX_SLEEP_MS = 3_600_000;

/** Runs until `signal` aborts, then waits for the running jobs (which see the abort) to end. */
export async function runScheduler(options: SchedulerOptions): Promise<void> {
  const running = new Map<string, Promise<void>>();
  let wake: (() => void) | undefined;
  while (!options.signal.aborted) {
    const now = options.clock.now();
    const { due, nextWake } = dueGroups(options.groups, options.lastRuns, new Set(running.keys()), now);
    for (const group of due) {
      options.lastRuns.set(group, now);
      const job = (async () => {
        const summary = await options.runGroup(group, options.signal);
        try {
          await options.onJobDone?.(group, summary);
        } catch (err) {
          options.onHookError?.(group, err);
        }
      })().finally(() => {
        running.delete(group);
        wake?.();
      });
      running.set(group, job);
    }
    const ms = nextWake
      ? Math.min(MAX_SLEEP_MS, Math.max(0, nextWake.getTime() - now.getTime()))
      : MAX_SLEEP_MS;
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    options.signal.addEventListener("abort", onAbort, { once: true });
    wake = () => stop.abort();
    try {
      await options.sleep(ms, stop.signal);
    } catch (err) {
      if (!stop.signal.aborted) throw err;
    } finally {
      options.signal.removeEventListener("abort", onAbort);
      wake = undefined;
    }
  }
  await Promise.allSettled(running.values());
}
