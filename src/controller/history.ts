/**
 * Job history as JSON lines: one record appended per finished job. The scheduler reads it for each
 * group's last run, the planner for the previous members of each group. A line cut short by a crash
 * while appending can only be the last one: it is skipped and counted; a bad line elsewhere is an
 * error naming its line number.
 */
import { z } from "zod";
import { ControllerError } from "./errors.js";
import type { JobSummary } from "./job-summary.js";

const outcomeSchema = z.object({
  kind: z.enum(["vm", "shared-disk", "source"]),
  id: z.string(),
  name: z.string(),
  group: z.string().optional(),
  status: z.enum(["ok", "warning", "failed", "skipped", "aborted"]),
  errorCode: z.string().optional(),
  pointId: z.string().optional(),
  bytesRead: z.number().optional(),
  achieved: z.enum(["application", "filesystem", "crash"]).optional(),
});

const recordSchema = z.object({
  v: z.literal(1),
  jobId: z.string(),
  trigger: z.enum(["schedule", "manual"]),
  /** Groups the job covered; `partial` when `--vm` narrowed it to some VMs. */
  groups: z.array(z.string()),
  partial: z.boolean(),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  exitCode: z.union([z.literal(0), z.literal(1), z.literal(3)]),
  outcomes: z.array(outcomeSchema),
});

export type HistoryRecord = z.infer<typeof recordSchema>;

export function historyRecord(
  summary: JobSummary,
  options: { groups: readonly string[]; trigger: "schedule" | "manual"; partial: boolean },
): HistoryRecord {
  return {
    v: 1,
    jobId: summary.jobId,
    trigger: options.trigger,
    groups: [...options.groups],
    partial: options.partial,
    startedAt: summary.startedAt.toISOString(),
    finishedAt: summary.finishedAt.toISOString(),
    exitCode: summary.exitCode,
    outcomes: summary.outcomes.map((o) => ({
      kind: o.kind,
      id: o.id,
      name: o.name,
      ...(o.group !== undefined ? { group: o.group } : {}),
      status: o.status,
      ...(o.errorCode !== undefined ? { errorCode: o.errorCode } : {}),
      ...(o.point ? { pointId: o.point.id, bytesRead: o.point.bytesRead } : {}),
      ...(o.consistency ? { achieved: o.consistency.achieved } : {}),
    })),
  };
}

/** One line to append (with its newline). */
export function historyLine(record: HistoryRecord): string {
  return JSON.stringify(record) + "\n";
}

export function parseHistory(
  text: string,
  source = "job history",
): { records: HistoryRecord[]; truncated: boolean } {
  const lines = text.split("\n");
  const records: HistoryRecord[] = [];
  let truncated = false;
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    const isLast = lines.slice(i + 1).every((l) => l.trim() === "");
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      if (isLast && !text.endsWith("\n")) {
        truncated = true;
        return;
      }
      throw new ControllerError("HISTORY_INVALID", `Invalid ${source} at line ${i + 1}: not JSON`, {
        cause: err,
      });
    }
    const parsed = recordSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue ? `${issue.path.join(".")}: ${issue.message}` : "";
      throw new ControllerError("HISTORY_INVALID", `Invalid ${source} at line ${i + 1}: ${where}`);
    }
    records.push(parsed.data);
  });
  return { records, truncated };
}

/** Start of each group's latest job, whatever its result (schedules count from starts). */
export function lastRuns(records: readonly HistoryRecord[]): Map<string, Date> {
  const out = new Map<string, Date>();
  for (const r of records) {
    const at = new Date(r.startedAt);
    for (const g of r.groups) {
      const prev = out.get(g);
      if (!prev || at > prev) out.set(g, at);
    }
  }
  return out;
}

/** Names of each group's VMs at its latest complete (not `--vm`) job, for added/removed reports. */
export function previousMembers(records: readonly HistoryRecord[]): Map<string, string[]> {
  const out = new Map<string, { at: string; names: string[] }>();
  for (const r of records) {
    if (r.partial) continue;
    for (const g of r.groups) {
      const prev = out.get(g);
      if (prev && prev.at > r.startedAt) continue;
      const names = r.outcomes
        .filter((o) => o.kind === "vm" && o.group === g && o.status !== "skipped")
        .map((o) => o.name);
      out.set(g, { at: r.startedAt, names });
    }
  }
  return new Map([...out].map(([g, v]) => [g, v.names]));
}
