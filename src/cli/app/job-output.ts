/** The job history file of the controller commands (the records are built in controller/history.ts). */
import { appendFile, readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { Config } from "../../controller/config-schema.js";
import { historyLine, historyRecord, parseHistory, type HistoryRecord } from "../../controller/history.js";
import type { JobSummary } from "../../controller/job-summary.js";

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
