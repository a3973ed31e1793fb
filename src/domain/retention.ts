/**
 * Retention selection with Proxmox Backup Server's semantics: options are applied in the order
 * last, hourly, daily, weekly (ISO weeks), monthly, yearly. Each keeps the newest point of each of
 * its N most recent periods, skipping periods that already hold a point kept by an earlier option;
 * other points of a period it covers are removed. Points no option keeps are removed. With no option
 * set, everything is kept (a policy must say what to keep). Pure: `now` and the zone are passed in.
 */
export interface RetentionPolicy {
  readonly keepLast?: number;
  readonly keepHourly?: number;
  readonly keepDaily?: number;
  readonly keepWeekly?: number;
  readonly keepMonthly?: number;
  readonly keepYearly?: number;
}

export interface RetentionCandidate {
  readonly id: string;
  readonly time: Date;
}

export interface RetentionDecision {
  readonly id: string;
  readonly keep: boolean;
  /** The options that kept it ("last 1", "daily 2026-11-21"), or why it goes. */
  readonly reason: string;
}

type Option = "last" | "hourly" | "daily" | "weekly" | "monthly" | "yearly";
const ORDER: readonly [Option, keyof RetentionPolicy][] = [
  ["last", "keepLast"],
  ["hourly", "keepHourly"],
  ["daily", "keepDaily"],
  ["weekly", "keepWeekly"],
  ["monthly", "keepMonthly"],
  ["yearly", "keepYearly"],
];

export function hasRetention(policy: RetentionPolicy): boolean {
  return ORDER.some(([, k]) => (policy[k] ?? 0) > 0);
}

/**
 * Decides for each point of one machine. Points newer than `now` (clock skew) are kept, as PBS
 * keeps unfinished ones: never delete what cannot be placed.
 */
export function selectForRetention(
  points: readonly RetentionCandidate[],
  policy: RetentionPolicy,
  now: Date,
  timeZone = "UTC",
): RetentionDecision[] {
  const sorted = [...points].sort((a, b) => b.time.getTime() - a.time.getTime() || b.id.localeCompare(a.id));
  const marks = new Map<string, { keep: boolean; reason: string }>();
  if (!hasRetention(policy)) {
    return sorted.map((p) => ({ id: p.id, keep: true, reason: "no retention options set: keeping all" }));
  }
  for (const p of sorted)
    if (p.time.getTime() > now.getTime()) marks.set(p.id, { keep: true, reason: "newer than now" });

  const parts = partsIn(timeZone);
  for (const [option, key] of ORDER) {
    const n = policy[key] ?? 0;
    if (n <= 0) continue;
    const period = (p: RetentionCandidate): string =>
      option === "last" ? p.id : periodId(option, parts(p.time));
    const covered = new Set<string>();
    for (const p of sorted) if (marks.get(p.id)?.keep) covered.add(period(p));
    const included = new Set<string>();
    for (const p of sorted) {
      if (marks.has(p.id)) continue;
      const id = period(p);
      if (covered.has(id)) continue;
      if (included.has(id)) {
        marks.set(p.id, { keep: false, reason: `not the newest of ${option} ${id}` });
        continue;
      }
      if (included.size >= n) break;
      included.add(id);
      marks.set(p.id, {
        keep: true,
        reason: option === "last" ? `last ${included.size}` : `${option} ${id}`,
      });
    }
  }
  return sorted.map((p) => {
    const m = marks.get(p.id);
    return { id: p.id, keep: m?.keep ?? false, reason: m?.reason ?? "kept by no option" };
  });
}

interface Parts {
  year: number;
  month: number;
  day: number;
  hour: number;
}

function partsIn(timeZone: string): (d: Date) => Parts {
  const fmt = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
  });
  return (d) => {
    const get = (type: string): number => Number(fmt.formatToParts(d).find((x) => x.type === type)?.value);
    return { year: get("year"), month: get("month"), day: get("day"), hour: get("hour") };
  };
}

const pad = (n: number, w = 2): string => String(n).padStart(w, "0");

function periodId(option: Exclude<Option, "last">, p: Parts): string {
  switch (option) {
    case "hourly":
      return `${p.year}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}`;
    case "daily":
      return `${p.year}-${pad(p.month)}-${pad(p.day)}`;
    case "weekly": {
      const { year, week } = isoWeek(p.year, p.month, p.day);
      return `${year}-W${pad(week)}`;
    }
    case "monthly":
      return `${p.year}-${pad(p.month)}`;
    case "yearly":
      return `${p.year}`;
  }
}

/** ISO 8601 week: weeks start on Monday; week 1 holds the year's first Thursday. */
export function isoWeek(year: number, month: number, day: number): { year: number; week: number } {
  const date = new Date(Date.UTC(year, month - 1, day));
  const dow = (date.getUTCDay() + 6) % 7; // Monday = 0
  date.setUTCDate(date.getUTCDate() - dow + 3); // Thursday of this week decides the year
  const isoYear = date.getUTCFullYear();
  const week = 1 + Math.floor((date.getTime() - Date.UTC(isoYear, 0, 1)) / 86400000 / 7);
  return { year: isoYear, week };
}
