import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { formatSummary, table } from "../../src/cli/summary.js";
import type { JobSummary } from "../../src/controller/job-summary.js";

const MiB = 1024 * 1024;

describe("formatSummary()", () => {
  it("shows each object's result, consistency, bytes read against size and why, then totals and changes", () => {
    const summary: JobSummary = {
      jobId: "job-1",
      startedAt: new Date("2026-01-10T02:00:00Z"),
      finishedAt: new Date("2026-01-10T02:00:12.5Z"),
      exitCode: 1,
      changes: [{ group: "g", added: ["new-1"], removed: ["old-1"] }],
      outcomes: [
        {
          kind: "vm",
          id: "1",
          name: "sql-01",
          group: "g",
          status: "ok",
          messages: [],
          leftoversRemoved: [],
          consistency: {
            expected: "application",
            achieved: "application",
            reason: "VMware Tools running on a Windows guest: VSS writers flushed",
          },
          point: { id: "p1", machineId: "1", bytesRead: 2 * MiB, bytesStored: MiB },
          disks: [{ key: "2000", capacity: 40 * MiB, mode: "incremental", reason: "", bytesToRead: 2 * MiB }],
        },
        {
          kind: "vm",
          id: "2",
          name: "web-1",
          group: "g",
          status: "warning",
          leftoversRemoved: [],
          messages: ["expected application, achieved crash: quiesce failed 3 times"],
          consistency: { expected: "application", achieved: "crash", reason: "quiesce failed 3 times" },
          point: { id: "p2", machineId: "2", bytesRead: 8 * MiB, bytesStored: 8 * MiB },
          disks: [
            { key: "2000", capacity: 8 * MiB, mode: "full", reason: "CBT reset", bytesToRead: 8 * MiB },
          ],
        },
        {
          kind: "vm",
          id: "3",
          name: "db-2",
          group: "g",
          status: "failed",
          errorCode: "READ_FAILED",
          leftoversRemoved: [],
          messages: ["Read of disk 2000 failed"],
          disks: [],
        },
      ],
    };
    assert.equal(
      formatSummary(summary),
      [
        "object  result                consistency           read / size          why",
        "sql-01  ok                    application           2.00 MiB / 40.0 MiB  VMware Tools running on a Windows guest: VSS writers flushed",
        "web-1   warning               application -> crash  8.00 MiB / 8.00 MiB  expected application, achieved crash: quiesce failed 3 times; disk 2000 full: CBT reset",
        "db-2    failed [READ_FAILED]  -                     -                    Read of disk 2000 failed",
        "",
        "job job-1: 1 ok, 1 warning, 1 failed, 0 aborted, 0 skipped; 10.0 MiB read, 9.00 MiB stored in 12.5 s; exit 1",
        "group g: added new-1",
        "group g: removed old-1",
        "",
      ].join("\n"),
    );
  });
});

describe("table()", () => {
  it("pads every column but the last", () => {
    assert.deepEqual(table(["a", "bb"], [["ccc", "d"]]), ["a    bb", "ccc  d"]);
  });
});
