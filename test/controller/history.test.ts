import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  historyLine,
  historyRecord,
  lastRuns,
  parseHistory,
  previousMembers,
} from "../../src/controller/history.js";
import type { JobSummary, ObjectOutcome } from "../../src/controller/job-summary.js";
import { isSnapvisorError } from "../../src/domain/errors.js";

function vmOutcome(name: string, group: string, status: ObjectOutcome["status"]): ObjectOutcome {
  return {
    kind: "vm",
    id: `id-${name}`,
    name,
    group,
    status,
    messages: [],
    disks: [],
    leftoversRemoved: [],
    ...(status === "ok"
      ? { point: { id: `p-${name}`, machineId: `id-${name}`, bytesRead: 10, bytesStored: 5 } }
      : {}),
    ...(status === "ok"
      ? { consistency: { expected: "application", achieved: "application", reason: "" } }
      : {}),
  };
}

function job(jobId: string, at: string, outcomes: ObjectOutcome[]): JobSummary {
  return { jobId, startedAt: new Date(at), finishedAt: new Date(at), outcomes, changes: [], exitCode: 0 };
}

const j1 = historyRecord(
  job("j1", "2026-01-10T02:00:00Z", [
    vmOutcome("a", "g", "ok"),
    vmOutcome("b", "g", "failed"),
    vmOutcome("c", "g", "skipped"),
  ]),
  { groups: ["g"], trigger: "schedule", partial: false },
);
const j2 = historyRecord(job("j2", "2026-01-10T06:00:00Z", [vmOutcome("a", "g", "ok")]), {
  groups: ["g"],
  trigger: "manual",
  partial: true,
});
const j3 = historyRecord(job("j3", "2026-01-10T04:00:00Z", [vmOutcome("x", "h", "ok")]), {
  groups: ["h"],
  trigger: "schedule",
  partial: false,
});

describe("job history", () => {
  it("round-trips records through JSON lines", () => {
    const { records, truncated } = parseHistory([j1, j2, j3].map(historyLine).join(""));
    assert.deepEqual(records, [j1, j2, j3]);
    assert.equal(truncated, false);
    assert.deepEqual(records[0]?.outcomes[0], {
      kind: "vm",
      id: "id-a",
      name: "a",
      group: "g",
      status: "ok",
      pointId: "p-a",
      bytesRead: 10,
      achieved: "application",
    });
  });

  it("skips a last line cut short by a crash while appending", () => {
    const text = historyLine(j1) + historyLine(j2).slice(0, 40);
    const { records, truncated } = parseHistory(text);
    assert.deepEqual(records, [j1]);
    assert.equal(truncated, true);
  });

  it("rejects a bad line that is not the last, naming its line number", () => {
    const text = historyLine(j1) + "{oops\n" + historyLine(j2);
    assert.throws(
      () => parseHistory(text, 'job history "h.jsonl"'),
      (err) =>
        isSnapvisorError(err, "HISTORY_INVALID") &&
        err.message === 'Invalid job history "h.jsonl" at line 2: not JSON',
    );
  });

  it("rejects a record of the wrong shape", () => {
    assert.throws(
      () => parseHistory(JSON.stringify({ ...j1, exitCode: 2 }) + "\n"),
      (err) =>
        isSnapvisorError(err, "HISTORY_INVALID") &&
        err.message.startsWith("Invalid job history at line 1: exitCode"),
    );
  });

  it("gives each group's last start, partial runs included", () => {
    assert.deepEqual(Object.fromEntries([...lastRuns([j1, j2, j3])].map(([g, d]) => [g, d.toISOString()])), {
      g: "2026-01-10T06:00:00.000Z",
      h: "2026-01-10T04:00:00.000Z",
    });
  });

  it("gives each group's members at its last complete run, skipped VMs left out", () => {
    assert.deepEqual(Object.fromEntries(previousMembers([j1, j2, j3])), { g: ["a", "b"], h: ["x"] });
  });
});
