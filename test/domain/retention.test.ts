import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isoWeek, selectForRetention, type RetentionPolicy } from "../../src/domain/retention.js";

const now = new Date("2026-11-21T12:00:00Z");
/** Points named by their UTC time, e.g. "11-21T10". */
function points(...times: string[]) {
  return times.map((t) => ({ id: t, time: new Date(`2026-${t}:00:00Z`) }));
}
function kept(policy: RetentionPolicy, list: ReturnType<typeof points>, zone?: string): string[] {
  return selectForRetention(list, policy, now, zone)
    .filter((d) => d.keep)
    .map((d) => d.id)
    .sort();
}

describe("selectForRetention()", () => {
  const day = points(
    "11-21T10",
    "11-21T08",
    "11-20T23",
    "11-20T01",
    "11-19T05",
    "11-16T05",
    "11-15T05",
    "11-02T05",
    "10-31T05",
  );
  const table: [string, RetentionPolicy, string[]][] = [
    ["keep-last 3 keeps the three newest", { keepLast: 3 }, ["11-20T23", "11-21T08", "11-21T10"]],
    ["keep-daily 2 keeps the newest of each of two days", { keepDaily: 2 }, ["11-20T23", "11-21T10"]],
    [
      "keep-last 1 + keep-daily 2: daily skips the day keep-last already covers",
      { keepLast: 1, keepDaily: 2 },
      ["11-19T05", "11-20T23", "11-21T10"],
    ],
    [
      "keep-weekly 2 uses ISO weeks (Mon..Sun): 11-16..11-21 is one week, 11-15 the week before",
      { keepWeekly: 2 },
      ["11-15T05", "11-21T10"],
    ],
    ["keep-monthly 2 keeps November's and October's newest", { keepMonthly: 2 }, ["10-31T05", "11-21T10"]],
    ["keep-yearly 5 keeps one per year", { keepYearly: 5 }, ["11-21T10"]],
    ["keep-hourly 2 keeps two distinct hours", { keepHourly: 2 }, ["11-21T08", "11-21T10"]],
    ["zero counts keep all (no policy)", { keepLast: 0 }, day.map((p) => p.id).sort()],
  ];
  for (const [name, policy, expected] of table) {
    it(name, () => assert.deepEqual(kept(policy, day), expected));
  }

  it("keeps a point newer than now (clock skew) and never counts it", () => {
    const list = [...points("11-21T10"), { id: "future", time: new Date("2026-11-22T00:00:00Z") }];
    assert.deepEqual(kept({ keepLast: 1 }, list), ["11-21T10", "future"]);
  });

  it("gives a reason for each decision", () => {
    const d = selectForRetention(points("11-21T10", "11-21T08"), { keepDaily: 1 }, now);
    assert.deepEqual(
      d.map((x) => [x.id, x.keep, x.reason]),
      [
        ["11-21T10", true, "daily 2026-11-21"],
        ["11-21T08", false, "not the newest of daily 2026-11-21"],
      ],
    );
  });

  it("periods follow the given time zone: 23:00 UTC is the next day in Tokyo", () => {
    const list = points("11-20T23", "11-20T10");
    assert.deepEqual(kept({ keepDaily: 1 }, list, "UTC"), ["11-20T23"]);
    assert.deepEqual(kept({ keepDaily: 2 }, list, "Asia/Tokyo"), ["11-20T10", "11-20T23"]);
  });
});

describe("isoWeek()", () => {
  const table: [number, number, number, string][] = [
    [2026, 1, 1, "2026-W1"],
    [2021, 1, 3, "2020-W53"],
    [2024, 12, 30, "2025-W1"],
    [2026, 11, 21, "2026-W47"],
    [2010, 1, 3, "2009-W53"],
  ];
  for (const [y, m, d, expected] of table) {
    it(`${y}-${m}-${d} is in ${expected}`, () => {
      const w = isoWeek(y, m, d);
      assert.equal(`${w.year}-W${w.week}`, expected);
    });
  }
});
