/**
 * The job summary as people read it: one row per VM and shared disk (result, expected/achieved
 * consistency and why, bytes read against the disk size), then totals and added/removed VMs.
 * Pure; `--json` prints the summary object itself instead.
 */
import type { JobSummary, ObjectOutcome } from "../controller/job-summary.js";
import { totals } from "../controller/job-summary.js";
import { formatBytes } from "./progress-format.js";

function consistencyCell(o: ObjectOutcome): string {
  if (!o.consistency) return "-";
  const { expected, achieved } = o.consistency;
  return expected === achieved ? achieved : `${expected} -> ${achieved}`;
}

function whyCell(o: ObjectOutcome): string {
  const parts: string[] = [];
  if (o.status === "ok" && o.consistency) parts.push(o.consistency.reason);
  parts.push(...o.messages);
  for (const d of o.disks)
    if (d.mode === "full" && d.reason !== "") parts.push(`disk ${d.key} full: ${d.reason}`);
  return parts.filter((p) => p !== "").join("; ");
}

function readCell(o: ObjectOutcome): string {
  const size = o.disks.reduce((n, d) => n + d.capacity, 0);
  if (!o.point) return size > 0 ? `- / ${formatBytes(size)}` : "-";
  return `${formatBytes(o.point.bytesRead)} / ${formatBytes(size)}`;
}

/** Lays out rows in columns; the last column is not padded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

export function formatSummary(summary: JobSummary): string {
  const rows = summary.outcomes.map((o) => [
    o.kind === "vm" ? o.name : o.kind === "shared-disk" ? `${o.name} (shared)` : `${o.name} (source)`,
    o.status + (o.errorCode && o.status !== "ok" ? ` [${o.errorCode}]` : ""),
    consistencyCell(o),
    readCell(o),
    whyCell(o),
  ]);
  const lines = table(["object", "result", "consistency", "read / size", "why"], rows);
  const t = totals(summary);
  const seconds = Math.max(0, (summary.finishedAt.getTime() - summary.startedAt.getTime()) / 1000);
  lines.push(
    "",
    `job ${summary.jobId}: ${t.ok} ok, ${t.warning} warning, ${t.failed} failed, ${t.aborted} aborted, ${t.skipped} skipped; ` +
      `${formatBytes(t.bytesRead)} read, ${formatBytes(t.bytesStored)} stored in ${seconds.toFixed(1)} s; exit ${summary.exitCode}`,
  );
  for (const c of summary.changes) {
    if (c.added.length > 0) lines.push(`group ${c.group}: added ${c.added.join(", ")}`);
    if (c.removed.length > 0) lines.push(`group ${c.group}: removed ${c.removed.join(", ")}`);
  }
  return lines.join("\n") + "\n";
}
