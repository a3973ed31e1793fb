import { nextRun, parseSchedule } from "../../controller/schedule.js";
import type { OutboundReplication } from "../../repository/replication-state.js";

/** "after-backup", "manual" or a schedule the controller understands ("daily 02:00", "every 4h"). */
export function checkSchedule(text: string): string {
  if (text !== "after-backup") parseSchedule(text);
  return text;
}

/** True when a replication on its own schedule is due at `now`. Pure. */
export function isDue(record: OutboundReplication, now: Date): boolean {
  if (record.paused || record.schedule === "after-backup") return false;
  const last = new Date(record.last?.at ?? record.createdAt);
  const next = nextRun(parseSchedule(record.schedule), last, now);
  return next !== undefined && next.getTime() <= now.getTime();
}
