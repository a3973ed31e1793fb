import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { nextRun, parseSchedule } from "../../src/controller/schedule.js";
import { isSnapvisorError } from "../../src/domain/errors.js";

const at = (iso: string) => new Date(iso);

describe("nextRun()", () => {
  // [what it shows, schedule, time zone, last run, now, next run (undefined = never)]
  // prettier-ignore
  const table: [string, string, string, string | undefined, string, string | undefined][] = [
    ["an interval schedule with no previous run is due now", "every 4h", "UTC", undefined, "2026-01-10T10:00:00Z", "2026-01-10T10:00:00Z"],
    ["an interval counts from the last run", "every 4h", "UTC", "2026-01-10T08:00:00Z", "2026-01-10T10:00:00Z", "2026-01-10T12:00:00Z"],
    ["a long-missed interval gives one run due now", "every 4h", "UTC", "2026-01-10T01:00:00Z", "2026-01-10T10:00:00Z", "2026-01-10T05:00:00Z"],
    ["minutes and days are units too", "every 90m", "UTC", "2026-01-10T08:00:00Z", "2026-01-10T08:00:00Z", "2026-01-10T09:30:00Z"],
    ["daily waits for today's slot", "daily 02:00", "UTC", undefined, "2026-01-10T01:00:00Z", "2026-01-10T02:00:00Z"],
    ["daily after today's slot waits for tomorrow", "daily 02:00", "UTC", undefined, "2026-01-10T03:00:00Z", "2026-01-11T02:00:00Z"],
    ["daily just after a run waits a day", "daily 02:00", "UTC", "2026-01-10T02:00:05Z", "2026-01-10T02:00:06Z", "2026-01-11T02:00:00Z"],
    ["daily after days of downtime runs once, now", "daily 02:00", "UTC", "2026-01-07T02:00:00Z", "2026-01-10T12:00:00Z", "2026-01-08T02:00:00Z"],
    ["daily with two times takes the next one", "daily 00:00,12:00", "UTC", undefined, "2026-01-10T06:00:00Z", "2026-01-10T12:00:00Z"],
    ["daily in Paris in winter is UTC+1", "daily 02:00", "Europe/Paris", undefined, "2026-01-10T00:00:00Z", "2026-01-10T01:00:00Z"],
    ["daily in Paris in summer is UTC+2", "daily 02:00", "Europe/Paris", undefined, "2026-07-10T00:00:00Z", "2026-07-10T00:00:00Z"],
    ["a time skipped by spring-forward runs after the jump", "daily 02:30", "Europe/Paris", "2026-03-28T01:30:00Z", "2026-03-28T12:00:00Z", "2026-03-29T01:30:00Z"],
    ["a time repeated by fall-back runs the first time", "daily 02:30", "Europe/Paris", "2026-10-24T00:30:00Z", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z"],
    ["a time repeated by fall-back does not run twice", "daily 02:30", "Europe/Paris", "2026-10-25T00:30:00Z", "2026-10-25T01:00:00Z", "2026-10-26T01:30:00Z"],
    ["weekly waits for its day", "weekly sun 03:00", "UTC", undefined, "2026-01-07T10:00:00Z", "2026-01-11T03:00:00Z"],
    ["weekly with several days takes the next", "weekly mon,fri 22:00", "America/New_York", undefined, "2026-01-07T12:00:00Z", "2026-01-10T03:00:00Z"],
    ["weekly reads the day in the zone, not in UTC", "weekly sunday 03:00", "Asia/Tokyo", undefined, "2026-01-10T19:00:00Z", "2026-01-17T18:00:00Z"],
    ["manual never runs by itself", "manual", "UTC", "2026-01-10T01:00:00Z", "2026-01-10T10:00:00Z", undefined],
  ];
  for (const [label, text, timeZone, last, now, want] of table) {
    it(`${label} (${text}, ${timeZone})`, () => {
      const schedule = parseSchedule(text, { timeZone });
      const got = nextRun(schedule, last === undefined ? undefined : at(last), at(now));
      assert.equal(got?.toISOString(), want === undefined ? undefined : at(want).toISOString());
    });
  }
});

describe("parseSchedule()", () => {
  // prettier-ignore
  const bad: [string, string, string][] = [
    ["hourly", "UTC", 'expected "manual", "every", "daily" or "weekly", got "hourly"'],
    ["every 2m", "UTC", "at least 5m"],
    ["every 4x", "UTC", 'expected an interval like 30m, 4h or 1d, got "4x"'],
    ["daily 24:00", "UTC", 'got "24:00"'],
    ["daily 2:00", "UTC", 'got "2:00"'],
    ["daily", "UTC", "expected a time HH:MM"],
    ["daily 02:00 sharp", "UTC", 'unexpected "sharp"'],
    ["weekly funday 03:00", "UTC", 'expected a day (sun mon tue wed thu fri sat), got "funday"'],
    ["weekly sun", "UTC", "expected a time HH:MM"],
    ["daily 02:00", "Mars/Olympus_Mons", 'unknown time zone "Mars/Olympus_Mons"'],
  ];
  for (const [text, timeZone, why] of bad) {
    it(`rejects "${text}" in ${timeZone}: ${why}`, () => {
      assert.throws(
        () => parseSchedule(text, { timeZone }),
        (err) => isSnapvisorError(err, "SCHEDULE_INVALID") && err.message.includes(why),
      );
    });
  }

  it("reads words case-insensitively and keeps the text for messages", () => {
    const s = parseSchedule("Weekly SUN,Wed 03:00");
    assert.equal(s.kind, "weekly");
    assert.deepEqual(s.kind === "weekly" ? s.days : [], [0, 3]);
    assert.equal(s.text, "Weekly SUN,Wed 03:00");
  });
});
