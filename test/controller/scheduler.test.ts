import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { JobSummary } from "../../src/controller/job-summary.js";
import { dueGroups, runScheduler } from "../../src/controller/scheduler.js";
import { config } from "./builders.js";

const H = 3_600_000;
const t0 = new Date("2026-01-10T00:00:00Z");

const groups = config([
  { name: "a", source: "vc1", vms: [{ pattern: "*" }], policy: { schedule: "every 4h" } },
  { name: "b", source: "vc1", vms: [{ pattern: "*" }], policy: { schedule: "daily 02:00" } },
  { name: "m", source: "vc1", vms: [{ pattern: "*" }], policy: { schedule: "manual" } },
]).protectionGroups;

function summary(jobId: string, at: Date): JobSummary {
  return { jobId, startedAt: at, finishedAt: at, outcomes: [], changes: [], exitCode: 0 };
}

/** Simulated time: sleeping advances the clock; the run stops at `end`. */
function simulation(end: number) {
  let now = t0.getTime();
  const controller = new AbortController();
  const sleeps: number[] = [];
  return {
    clock: { now: () => new Date(now) },
    controller,
    sleeps,
    advance: (ms: number) => (now += ms),
    sleep: async (ms: number, signal: AbortSignal) => {
      sleeps.push(ms);
      await Promise.resolve();
      if (signal.aborted) return;
      now += ms;
      if (now >= end) controller.abort();
    },
  };
}

describe("dueGroups()", () => {
  it("starts never-run interval groups now and wakes for the next wall-clock slot", () => {
    const d = dueGroups(groups, new Map(), new Set(), t0);
    assert.deepEqual(d.due, ["a"]);
    assert.equal(d.nextWake?.toISOString(), "2026-01-10T02:00:00.000Z");
  });

  it("does not start a group that is still running", () => {
    const d = dueGroups(groups, new Map(), new Set(["a"]), t0);
    assert.deepEqual(d.due, []);
  });

  it("wakes for the earliest next run and ignores manual groups", () => {
    const last = new Map([
      ["a", new Date(t0.getTime() - 3 * H)],
      ["b", new Date(t0.getTime() - 22 * H)],
    ]);
    const d = dueGroups(groups, last, new Set(), t0);
    assert.deepEqual(d.due, []);
    assert.equal(d.nextWake?.toISOString(), "2026-01-10T01:00:00.000Z");
    assert.equal(dueGroups([groups[2]!], new Map(), new Set(), t0).nextWake, undefined);
  });
});

describe("runScheduler()", () => {
  it("runs each group on its schedule over a simulated day", async () => {
    const sim = simulation(t0.getTime() + 24 * H);
    const runs: string[] = [];
    await runScheduler({
      groups,
      lastRuns: new Map(),
      clock: sim.clock,
      sleep: sim.sleep,
      runGroup: async (g) => {
        runs.push(`${g}@${sim.clock.now().toISOString().slice(11, 16)}`);
        return summary(g, sim.clock.now());
      },
      signal: sim.controller.signal,
    });
    assert.deepEqual(runs, ["a@00:00", "b@02:00", "a@04:00", "a@08:00", "a@12:00", "a@16:00", "a@20:00"]);
  });

  it("keeps one job per group: a long job is not started twice, then catches up once", async () => {
    const sim = simulation(t0.getTime() + 20 * H);
    const runs: string[] = [];
    let finishFirst!: () => void;
    const onlyA = [groups[0]!];
    await runScheduler({
      groups: onlyA,
      lastRuns: new Map(),
      clock: sim.clock,
      sleep: async (ms, signal) => {
        // The first job ends after 9 simulated hours.
        if (runs.length === 1 && sim.clock.now().getTime() >= t0.getTime() + 9 * H) finishFirst();
        await sim.sleep(ms, signal);
      },
      runGroup: async (g) => {
        runs.push(sim.clock.now().toISOString().slice(11, 16));
        if (runs.length === 1) await new Promise<void>((r) => (finishFirst = r));
        return summary(g, sim.clock.now());
      },
      signal: sim.controller.signal,
    });
    assert.equal(runs[0], "00:00");
    assert.ok(runs[1] !== undefined && runs[1] >= "09:00", `second run at ${runs[1]}`);
    assert.deepEqual(new Set(runs).size, runs.length, "no two runs at one time");
  });

  it("calls the after-job hook and survives its failure", async () => {
    const sim = simulation(t0.getTime() + 5 * H);
    const hooked: string[] = [];
    const hookErrors: string[] = [];
    await runScheduler({
      groups: [groups[0]!],
      lastRuns: new Map(),
      clock: sim.clock,
      sleep: sim.sleep,
      runGroup: async (g) => summary(g, sim.clock.now()),
      onJobDone: async (g) => {
        hooked.push(g);
        if (hooked.length === 1) throw new Error("replication target unreachable");
      },
      onHookError: (_g, err) => hookErrors.push((err as Error).message),
      signal: sim.controller.signal,
    });
    assert.deepEqual(hooked, ["a", "a"]);
    assert.deepEqual(hookErrors, ["replication target unreachable"]);
  });
});
