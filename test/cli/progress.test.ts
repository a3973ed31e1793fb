import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ProgressState,
  formatBar,
  formatBytes,
  formatEta,
  formatLine,
  rateAndEta,
  renderFrame,
} from "../../src/cli/progress-format.js";
import { createProgressWriter } from "../../src/cli/progress.js";
import type { JobEvent } from "../../src/controller/backup-job.js";
import type { ObjectOutcome } from "../../src/controller/job-summary.js";

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

describe("progress formatting", () => {
  // prettier-ignore
  const bytes: [number, string][] = [[0, "0 B"], [1023, "1023 B"], [1536, "1.50 KiB"], [10.5 * MiB, "10.5 MiB"], [250 * GiB, "250 GiB"], [3 * 1024 * GiB, "3.00 TiB"]];
  for (const [n, want] of bytes)
    it(`formatBytes(${n}) is "${want}"`, () => assert.equal(formatBytes(n), want));

  // prettier-ignore
  const etas: [number | undefined, string][] = [[undefined, "--"], [Infinity, "--"], [0, "0s"], [12.4, "12s"], [185, "3m05s"], [3720, "1h02m"], [90000, "25h00m"]];
  for (const [s, want] of etas) it(`formatEta(${s}) is "${want}"`, () => assert.equal(formatEta(s), want));

  it("draws bars clamped to [0, 1]", () => {
    assert.equal(formatBar(0.5, 10), "[#####.....]");
    assert.equal(formatBar(2, 4), "[####]");
    assert.equal(formatBar(-1, 4), "[....]");
    assert.equal(formatBar(NaN, 4), "[....]");
  });

  it("computes the average rate and the ETA of the rest", () => {
    assert.deepEqual(rateAndEta(100 * MiB, 300 * MiB, 0, 10_000), { rate: 10 * MiB, eta: 20 });
    assert.deepEqual(rateAndEta(0, 300 * MiB, 0, 10_000), { rate: undefined, eta: undefined });
  });

  it("formats one line with bar, percent, bytes, rate and ETA", () => {
    assert.equal(
      formatLine("sql-01", 1 * GiB, 4 * GiB, 0, 8_000, 8),
      "sql-01 [##......]  25%  1.00 GiB/4.00 GiB  128 MiB/s  ETA 24s",
    );
  });
});

function done(id: string, name: string, status: ObjectOutcome["status"], messages: string[] = []): JobEvent {
  const outcome: ObjectOutcome = {
    kind: "vm",
    id,
    name,
    group: "g",
    status,
    messages,
    disks: [],
    leftoversRemoved: [],
  };
  return { type: "object-done", outcome };
}

describe("ProgressState and renderFrame()", () => {
  it("shows one line per running VM and an overall line", () => {
    const state = new ProgressState(0);
    state.apply({ type: "object-start", id: "a", name: "app-1", bytesTotal: 100 * MiB }, 0);
    state.apply({ type: "object-start", id: "b", name: "db-1", bytesTotal: 300 * MiB }, 2_000);
    state.apply({ type: "object-progress", id: "a", bytesRead: 100 * MiB }, 5_000);
    state.apply({ type: "object-progress", id: "b", bytesRead: 30 * MiB }, 5_000);
    state.apply(done("a", "app-1", "ok"), 5_000);
    assert.deepEqual(renderFrame(state, 5_000, 80), [
      "db-1    [#............]  10%  30.0 MiB/300 MiB  10.0 MiB/s  ETA 27s",
      "overall [####.........]  32%  130 MiB/400 MiB  26.0 MiB/s  ETA 10s  1/2 done",
    ]);
    const narrow = renderFrame(state, 5_000, 40);
    assert.deepEqual(narrow, [
      "db-1     10%  30.0 MiB/300 MiB  10.0 Mi",
      "overall  32%  130 MiB/400 MiB  26.0 MiB",
    ]);
  });
});

describe("createProgressWriter()", () => {
  function sink() {
    const chunks: string[] = [];
    return { stream: { write: (s: string) => chunks.push(s), columns: 100 }, text: () => chunks.join("") };
  }
  let t = 0;
  const clock = { now: () => new Date(t) };
  const events: JobEvent[] = [
    { type: "object-start", id: "a", name: "app-1", bytesTotal: 100 * MiB },
    { type: "object-progress", id: "a", bytesRead: 10 * MiB },
    { type: "object-progress", id: "a", bytesRead: 30 * MiB },
    { type: "object-progress", id: "a", bytesRead: 60 * MiB },
    { type: "object-progress", id: "a", bytesRead: 100 * MiB },
    done("a", "app-1", "warning", ["expected application, achieved crash: quiesce failed"]),
    done("b", "db-1", "failed", ["Read of disk 2000 failed"]),
  ];

  it("prints plain lines at start, at each quarter, and when done (with the reasons)", () => {
    const out = sink();
    t = 0;
    const w = createProgressWriter("plain", out.stream, clock);
    for (const e of events) {
      t += 1000;
      w.onEvent(e);
    }
    assert.equal(
      out.text(),
      [
        "app-1: started, 100 MiB to read",
        "app-1:  30%  30.0 MiB/100 MiB  15.0 MiB/s  ETA 5s",
        "app-1:  60%  60.0 MiB/100 MiB  20.0 MiB/s  ETA 2s",
        "app-1: warning, 100 MiB read (expected application, achieved crash: quiesce failed)",
        "db-1: failed (Read of disk 2000 failed)",
        "",
      ].join("\n"),
    );
  });

  it("writes one JSON line per event with --json", () => {
    const out = sink();
    t = 0;
    const w = createProgressWriter("json", out.stream, clock);
    for (const e of events) w.onEvent(e);
    const lines = out
      .text()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string; time: string });
    assert.equal(lines.length, events.length);
    assert.deepEqual(
      lines.map((l) => l.type),
      events.map((e) => e.type),
    );
    assert.equal(lines[0]?.time, "1970-01-01T00:00:00.000Z");
  });

  it("redraws the TTY frame in place, at most every 100 ms for progress", () => {
    const out = sink();
    t = 0;
    const w = createProgressWriter("tty", out.stream, clock);
    w.onEvent({ type: "object-start", id: "a", name: "app-1", bytesTotal: 100 * MiB });
    w.onEvent({ type: "object-progress", id: "a", bytesRead: 1 * MiB });
    t = 150;
    w.onEvent({ type: "object-progress", id: "a", bytesRead: 2 * MiB });
    w.finish();
    const erases = out.text().split("\x1b[0J").length - 1;
    assert.equal(erases, 2, "start (nothing to erase yet), one throttled progress redraw, finish");
    assert.ok(out.text().includes("\x1b[2F"), "moves up over the two previous lines");
  });
});
