/**
 * Wall-clock arithmetic in a named IANA time zone through Intl, without a date library. Local times
 * that do not exist (spring-forward gap) move forward by the gap; local times that occur twice
 * (fall-back) take the earlier instant. That is Temporal's "compatible" disambiguation.
 */

export interface LocalDateTime {
  readonly year: number;
  /** 1-12 */
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when Intl knows the zone (`UTC`, `Europe/Paris`, ...). */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The wall-clock fields of `instant` (ms since epoch) in `timeZone`. */
export function toLocal(instant: number, timeZone: string): LocalDateTime & { second: number } {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(instant))) {
    if (p.type !== "literal") parts[p.type] = Number(p.value);
  }
  return {
    year: parts.year ?? 0,
    month: parts.month ?? 0,
    day: parts.day ?? 0,
    hour: parts.hour ?? 0,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
  };
}

/** Offset of `timeZone` from UTC at `instant`, in ms (east positive), to the minute. */
function offsetAt(instant: number, timeZone: string): number {
  const l = toLocal(instant, timeZone);
  const asUtc = Date.UTC(l.year, l.month - 1, l.day, l.hour, l.minute, l.second);
  return asUtc - Math.floor(instant / 1000) * 1000;
}

function sameLocal(instant: number, want: LocalDateTime, timeZone: string): boolean {
  const l = toLocal(instant, timeZone);
  return (
    l.year === want.year &&
    l.month === want.month &&
    l.day === want.day &&
    l.hour === want.hour &&
    l.minute === want.minute
  );
}

const DAY = 86_400_000;

/** The instant at which the wall clock of `timeZone` shows `local` (see the module note for DST). */
export function fromLocal(local: LocalDateTime, timeZone: string): number {
  const naive = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute);
  // Offsets a day either side bracket any single transition near `naive`.
  const before = offsetAt(naive - DAY, timeZone);
  const after = offsetAt(naive + DAY, timeZone);
  const candidates = [naive - before, naive - after].filter((t) => sameLocal(t, local, timeZone));
  if (candidates.length > 0) return Math.min(...candidates);
  // In a gap: read the wall time with the offset from before the transition, which lands after it.
  return naive - before;
}

/** Adds `days` to a calendar date and returns the normalized date with its weekday (0 = Sunday). */
export function addDays(
  date: { year: number; month: number; day: number },
  days: number,
): { year: number; month: number; day: number; weekday: number } {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    weekday: d.getUTCDay(),
  };
}
