/**
 * Backup schedules: a small grammar parsed once, and a pure `nextRun(schedule, lastRun, now)`.
 *
 * Grammar (case-insensitive, words separated by spaces):
 *   manual                              never runs by itself
 *   every <n>m | <n>h | <n>d            interval from the last run (5m minimum), e.g. `every 4h`
 *   daily HH:MM[,HH:MM...]              every day at these wall-clock times, e.g. `daily 02:00`
 *   weekly DAY[,DAY...] HH:MM[,HH:MM]   DAY is sun mon tue wed thu fri sat, e.g. `weekly sun 03:00`
 * Wall-clock times are read in the schedule's IANA time zone (default UTC). A time skipped by a
 * daylight-saving jump runs right after the jump; a time that occurs twice runs once, the first time.
 */
import { ControllerError } from "./errors.js";
import { addDays, fromLocal, isValidTimeZone, toLocal } from "./time-zone.js";

export interface TimeOfDay {
  readonly hour: number;
  readonly minute: number;
}

export type Schedule =
  | { readonly kind: "manual"; readonly text: string; readonly timeZone: string }
  | { readonly kind: "every"; readonly text: string; readonly timeZone: string; readonly intervalMs: number }
  | {
      readonly kind: "daily" | "weekly";
      readonly text: string;
      readonly timeZone: string;
      readonly times: readonly TimeOfDay[];
      /** Weekdays, 0 = Sunday; all seven for `daily`. */
      readonly days: readonly number[];
    };

const dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const fullDayNames = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
const unitMs: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000 };
const MIN_INTERVAL_MS = 5 * 60_000;

function invalid(text: string, why: string): ControllerError {
  return new ControllerError("SCHEDULE_INVALID", `Invalid schedule "${text}": ${why}`, {
    details: { schedule: text },
  });
}

function parseTimes(text: string, word: string | undefined): TimeOfDay[] {
  if (word === undefined) throw invalid(text, "expected a time HH:MM");
  return word.split(",").map((t) => {
    const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(t);
    if (!m) throw invalid(text, `expected a time HH:MM (00:00-23:59), got "${t}"`);
    return { hour: Number(m[1]), minute: Number(m[2]) };
  });
}

/** Parses a schedule string; throws SCHEDULE_INVALID naming the part that is wrong. */
export function parseSchedule(text: string, options: { timeZone?: string } = {}): Schedule {
  const timeZone = options.timeZone ?? "UTC";
  if (!isValidTimeZone(timeZone)) throw invalid(text, `unknown time zone "${timeZone}"`);
  const words = text.trim().toLowerCase().split(/\s+/);
  const [kind, a, b] = words;
  const tooMany = (n: number) => {
    if (words.length > n) throw invalid(text, `unexpected "${words.slice(n).join(" ")}"`);
  };
  switch (kind) {
    case "manual":
      tooMany(1);
      return { kind: "manual", text, timeZone };
    case "every": {
      tooMany(2);
      const m = /^(\d{1,6})([mhd])$/.exec(a ?? "");
      if (!m) throw invalid(text, `expected an interval like 30m, 4h or 1d, got "${a ?? ""}"`);
      const intervalMs = Number(m[1]) * (unitMs[m[2] ?? "m"] ?? 0);
      if (intervalMs < MIN_INTERVAL_MS) throw invalid(text, "the interval must be at least 5m");
      return { kind: "every", text, timeZone, intervalMs };
    }
    case "daily":
      tooMany(2);
      return { kind: "daily", text, timeZone, times: parseTimes(text, a), days: [0, 1, 2, 3, 4, 5, 6] };
    case "weekly": {
      tooMany(3);
      const days = (a ?? "").split(",").map((d) => {
        const i = d.length === 3 ? dayNames.indexOf(d) : fullDayNames.indexOf(d);
        if (i < 0) throw invalid(text, `expected a day (sun mon tue wed thu fri sat), got "${d}"`);
        return i;
      });
      return {
        kind: "weekly",
        text,
        timeZone,
        times: parseTimes(text, b),
        days: [...new Set(days)].sort((x, y) => x - y),
      };
    }
    default:
      throw invalid(text, `expected "manual", "every", "daily" or "weekly", got "${kind ?? ""}"`);
  }
}

/** First wall-clock slot of `schedule` at or after `from` (ms). */
function firstSlotFrom(schedule: Extract<Schedule, { times: unknown }>, from: number): number {
  const start = toLocal(from, schedule.timeZone);
  // Start a day early: a slot before a DST jump may belong to the previous local date.
  for (let offset = -1; offset <= 8; offset++) {
    const date = addDays(start, offset);
    if (!schedule.days.includes(date.weekday)) continue;
    const slots = schedule.times
      .map((t) => fromLocal({ ...date, hour: t.hour, minute: t.minute }, schedule.timeZone))
      .filter((t) => t >= from)
      .sort((x, y) => x - y);
    if (slots[0] !== undefined) return slots[0];
  }
  // Unreachable: every schedule has at least one day and one time within eight days.
  throw invalid(schedule.text, "no slot found in the next eight days");
}

/**
 * When the next run is due: a time at or before `now` means "run now". One missed slot or many
 * give a single catch-up run, never a burst. Without a previous run, interval schedules are due at
 * once and wall-clock schedules wait for their next slot. `manual` is never due (undefined).
 */
export function nextRun(schedule: Schedule, lastRun: Date | undefined, now: Date): Date | undefined {
  switch (schedule.kind) {
    case "manual":
      return undefined;
    case "every":
      return lastRun === undefined ? now : new Date(lastRun.getTime() + schedule.intervalMs);
    case "daily":
    case "weekly": {
      // The slot after the last run: if it is already past, it is due now (once).
      const from = lastRun === undefined ? now.getTime() : lastRun.getTime() + 1;
      return new Date(firstSlotFrom(schedule, from));
    }
  }
}
