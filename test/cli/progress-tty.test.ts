import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { chooseProgressMode, createProgressWriter, interjectingStream } from "../../src/cli/progress.js";
import type { JobEvent } from "../../src/controller/backup-job.js";
import type { ObjectOutcome } from "../../src/controller/job-summary.js";
import { VirtualTerminal } from "./virtual-terminal.js";

const MiB = 1024 ** 2;

function done(id: string, name: string, status: ObjectOutcome["status"] = "ok"): JobEvent {
  return {
    type: "object-done",
    outcome: { kind: "vm", id, name, group: "g", status, messages: [], disks: [], leftoversRemoved: [] },
  };
}

/** A TTY progress writer on a virtual terminal, with a clock the test moves. */
function tty(columns: number, rows?: number, reportedColumns?: number) {
  const term = new VirtualTerminal({
    columns,
    ...(rows !== undefined ? { rows } : {}),
    ...(reportedColumns !== undefined ? { reportedColumns } : {}),
  });
  const clock = { t: 0, now: () => new Date(clock.t) };
  const writer = createProgressWriter("tty", term.stream(), clock);
  const at = (ms: number, ...events: JobEvent[]) => {
    clock.t = ms;
    for (const e of events) writer.onEvent(e);
  };
  return { term, writer, at };
}

describe("the TTY progress writer, as seen on a terminal", () => {
  it("shows a bar per VM being read and an overall bar with bytes, rate and ETA, redrawn in place", () => {
    const { term, writer, at } = tty(120);
    at(0, { type: "object-start", id: "a", name: "sql-01", bytesTotal: 100 * MiB });
    at(1_000, { type: "object-start", id: "b", name: "web-01", bytesTotal: 300 * MiB });
    at(2_000, { type: "object-progress", id: "a", bytesRead: 50 * MiB });
    at(3_000, { type: "object-progress", id: "b", bytesRead: 60 * MiB });
    // Each VM's rate is since its own start; the overall one since the job's.
    assert.deepEqual(term.text(), [
      "sql-01  [###############...............]  50%  50.0 MiB/100 MiB  16.7 MiB/s  ETA 3s",
      "web-01  [######........................]  20%  60.0 MiB/300 MiB  30.0 MiB/s  ETA 8s",
      "overall [########......................]  27%  110 MiB/400 MiB  36.7 MiB/s  ETA 8s  0/2 done",
    ]);
    writer.finish();
  });

  it("drops a finished VM's line and clears it from the screen, leaving no stale line", () => {
    const { term, at } = tty(100);
    at(0, { type: "object-start", id: "a", name: "app-1", bytesTotal: 10 * MiB });
    at(0, { type: "object-start", id: "b", name: "db-1", bytesTotal: 10 * MiB });
    at(500, { type: "object-progress", id: "a", bytesRead: 10 * MiB });
    at(1_000, done("a", "app-1"));
    const screen = term.text();
    assert.equal(screen.length, 2, screen.join("\n"));
    assert.match(screen[0] ?? "", /^db-1 +\[\.+\] {3}0% {2}0 B\/10.0 MiB {2}--\/s {2}ETA --$/);
    assert.match(
      screen[1] ?? "",
      /^overall +\[#+\.+\] {2}50% {2}10.0 MiB\/20.0 MiB {2}10.0 MiB\/s {2}ETA 1s {2}1\/2 done$/,
    );
  });

  it("redraws progress at most every 100 ms, but always on start and done", () => {
    const writes: string[] = [];
    const clock = { t: 0, now: () => new Date(clock.t) };
    const writer = createProgressWriter("tty", { write: (s: string) => writes.push(s), columns: 100 }, clock);
    writer.onEvent({ type: "object-start", id: "a", name: "a", bytesTotal: 100 });
    for (let i = 1; i <= 20; i++) {
      clock.t = i * 10;
      writer.onEvent({ type: "object-progress", id: "a", bytesRead: i });
    }
    assert.equal(writes.length, 3, "start, then one redraw at 100 ms and one at 200 ms");
    writer.onEvent(done("a", "a"));
    assert.equal(writes.length, 4);
  });

  it("ends with the overall bar at 100 % and leaves later output below it", () => {
    const { term, writer, at } = tty(100);
    at(0, { type: "object-start", id: "a", name: "app-1", bytesTotal: 8 * MiB });
    at(4_000, { type: "object-progress", id: "a", bytesRead: 8 * MiB }, done("a", "app-1", "warning"));
    writer.finish();
    writer.interject("summary follows\n");
    assert.deepEqual(term.text(), [
      "overall [##############################] 100%  8.00 MiB/8.00 MiB  2.00 MiB/s  ETA 0s  1/1 done",
      "summary follows",
    ]);
  });

  it("counts a finished VM at what it read, so the overall bar ends at 100 % with no ETA left", () => {
    const { term, writer, at } = tty(100);
    at(0, { type: "object-start", id: "a", name: "thin-1", bytesTotal: 48 * MiB });
    at(0, { type: "object-start", id: "b", name: "fails-1", bytesTotal: 16 * MiB });
    at(1_000, { type: "object-progress", id: "a", bytesRead: 6 * MiB });
    at(1_500, { type: "object-progress", id: "b", bytesRead: 2 * MiB });
    at(2_000, done("a", "thin-1"));
    assert.match(
      term.text().at(-1) ?? "",
      /^overall .* 36% {2}8.00 MiB\/22.0 MiB {2}4.00 MiB\/s {2}ETA 4s {2}1\/2 done$/,
    );
    at(3_000, done("b", "fails-1", "failed"));
    writer.finish();
    assert.deepEqual(term.text(), [
      "overall [##############################] 100%  8.00 MiB/8.00 MiB  2.67 MiB/s  ETA 0s  2/2 done",
    ]);
  });

  it("puts log lines written meanwhile above the bars, keeping the frame whole", () => {
    const { term, writer, at } = tty(100);
    const logs = interjectingStream(writer);
    at(0, { type: "object-start", id: "a", name: "app-1", bytesTotal: 4 * MiB });
    logs.write('{"level":40,"msg":"application-consistent checkpoint failed"}\n');
    at(1_000, { type: "object-progress", id: "a", bytesRead: 2 * MiB });
    logs.write(Buffer.from('{"level":50,"msg":"second"}\n'));
    const screen = term.text();
    assert.deepEqual(screen.slice(0, 2), [
      '{"level":40,"msg":"application-consistent checkpoint failed"}',
      '{"level":50,"msg":"second"}',
    ]);
    assert.equal(screen.length, 4, screen.join("\n"));
    assert.match(screen[2] ?? "", /^app-1 .* 50% {2}2.00 MiB\/4.00 MiB/);
    assert.match(screen[3] ?? "", /^overall .* 50%/);
  });

  // A pty nobody sized (`script` in CI, a serial console) reports 0 columns: assume 80.
  for (const [columns, reported] of [
    [40, 40],
    [80, 0],
  ] as const) {
    it(`keeps every line within the width (no wrapping) when the terminal reports ${reported} columns`, () => {
      const width = columns;
      const { term, at } = tty(columns, undefined, reported);
      at(0, {
        type: "object-start",
        id: "a",
        name: "a-very-long-virtual-machine-name-01",
        bytesTotal: 5 * MiB,
      });
      at(1_000, { type: "object-progress", id: "a", bytesRead: 1 * MiB });
      at(2_000, { type: "object-start", id: "b", name: "b", bytesTotal: 5 * MiB });
      const screen = term.text();
      assert.equal(screen.length, 3, screen.join("\n"));
      for (const line of screen) assert.ok(line.length > 20 && line.length <= width, line);
      assert.match(screen[0] ?? "", /^a-very-long-virtual-mach/);
    });
  }

  it("keeps the frame shorter than the screen, counting the VMs that do not fit", () => {
    const { term, at } = tty(100, 6);
    for (let i = 0; i < 10; i++)
      at(i * 200, { type: "object-start", id: `v${i}`, name: `vm-${i}`, bytesTotal: MiB });
    at(5_000, { type: "object-progress", id: "v9", bytesRead: MiB });
    const screen = term.text();
    assert.equal(screen.length, 5, screen.join("\n"));
    assert.deepEqual(
      screen.map((l) => l.split(/\s+/)[0]),
      ["vm-0", "vm-1", "vm-2", "...", "overall"],
    );
    assert.equal(screen[3], "... and 7 more running");
  });
});

describe("chooseProgressMode()", () => {
  // prettier-ignore
  const cases: [boolean, boolean | undefined, string | undefined, string][] = [
    [true, true, "xterm-256color", "json"],
    [false, true, "xterm-256color", "tty"],
    [false, true, undefined, "tty"],
    [false, true, "dumb", "plain"],
    [false, false, "xterm", "plain"],
    [false, undefined, "xterm", "plain"],
  ];
  for (const [json, isTTY, term, want] of cases)
    it(`is ${want} with json=${json}, isTTY=${isTTY}, TERM=${term}`, () =>
      assert.equal(chooseProgressMode({ json, isTTY, term }), want));
});
