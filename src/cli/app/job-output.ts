/** The end-of-job table and history file of the controller commands. Formatting is pure. */
import { appendFile, readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { Config } from "../../controller/config-schema.js";
import { historyLine, historyRecord, parseHistory, type HistoryRecord } from "../../controller/history.js";
import { totals, type JobSummary } from "../../controller/job-summary.js";
import { formatBytes, table } from "../format.js";

/** One row per VM / shared disk: status, consistency expected -> achieved and why, bytes read of size. */
export function summaryTable(summary: JobSummary): string {
  const rows = summary.outcomes.map((o) => {
    const size = o.disks.reduce((n, d) => n + d.capacity, 0);
    const c = o.consistency;
    const consistency = c ? (c.expected === c.achieved ? c.achieved : `${c.expected} -> ${c.achieved}`) : "-";
    const why = [c?.reason, ...o.messages].filter((x): x is string => !!x && x.length > 0);
    const read = o.point
      ? `${formatBytes(o.point.bytesRead)} of ${formatBytes(size)}`
      : size
        ? `- of ${formatBytes(size)}`
        : "-";
    return [
      o.name,
      o.kind === "vm" ? "vm" : o.kind,
      o.status,
      consistency,
      read,
      o.point?.id ?? "-",
      [...new Set(why)].join("; "),
    ];
  });
  const t = totals(summary);
  const lines = table(["NAME", "KIND", "RESULT", "CONSISTENCY", "READ", "POINT", "WHY"], rows);
  const changes = summary.changes
    .filter((c) => c.added.length + c.removed.length > 0)
    .map(
      (c) => `group ${c.group}: added ${c.added.join(", ") || "-"}; removed ${c.removed.join(", ") || "-"}\n`,
    )
    .join("");
  return (
    lines +
    changes +
    `${t.ok} ok, ${t.warning} with warnings, ${t.failed} failed, ${t.skipped} skipped, ${t.aborted} aborted; ` +
    `read ${formatBytes(t.bytesRead)}, stored ${formatBytes(t.bytesStored)} (exit ${summary.exitCode})\n`
  );
}

export function historyPath(config: Config): string {
  return config.historyFile
    ? resolve(config.historyFile)
    : join(dirname(resolve(config.repository.path)), "snapvisor-history.jsonl");
}

export async function readHistory(config: Config): Promise<HistoryRecord[]> {
  try {
    return parseHistory(await readFile(historyPath(config), "utf8"), historyPath(config)).records;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

export async function appendHistory(
  config: Config,
  summary: JobSummary,
  options: { groups: readonly string[]; trigger: "schedule" | "manual"; partial: boolean },
): Promise<void> {
  await appendFile(historyPath(config), historyLine(historyRecord(summary, options)));
}
