/**
 * Pure progress formatting: bytes, rates, ETAs, bars, and the state they are computed from. The
 * writers in progress.ts only decide when to print and where.
 */
import type { JobEvent } from "../controller/backup-job.js";
import type { ObjectOutcome } from "../controller/job-summary.js";

const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** 1536 -> "1.5 KiB"; three significant digits, binary units. */
export function formatBytes(n: number): string {
  let v = Math.max(0, n);
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  if (u === 0) return `${Math.round(v)} B`;
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[u] ?? ""}`;
}

export function formatRate(bytesPerSecond: number | undefined): string {
  return bytesPerSecond === undefined || !Number.isFinite(bytesPerSecond)
    ? "--/s"
    : `${formatBytes(bytesPerSecond)}/s`;
}

/** Seconds -> "12s", "3m05s", "1h02m"; "--" when unknown. */
export function formatEta(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return "--";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** `[#####.....]` of `width` cells inside the brackets. */
export function formatBar(fraction: number, width: number): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.floor(f * width);
  return `[${"#".repeat(full)}${".".repeat(width - full)}]`;
}

export interface ObjectProgress {
  readonly id: string;
  readonly name: string;
  /** Bytes the object was expected to read; once it is done, what it did read. */
  bytesTotal: number;
  bytesRead: number;
  readonly startedAt: number;
  done?: ObjectOutcome["status"];
}

/** What the job has reported so far; `now` comes from the caller's clock. */
export class ProgressState {
  readonly objects = new Map<string, ObjectProgress>();
  readonly startedAt: number;

  constructor(startedAt: number) {
    this.startedAt = startedAt;
  }

  apply(event: JobEvent, now: number): ObjectProgress | undefined {
    switch (event.type) {
      case "object-start": {
        // A VM that reads a shared disk starts twice: once for the shared disk, once for itself.
        const p = {
          id: event.id,
          name: event.name,
          bytesTotal: event.bytesTotal,
          bytesRead: 0,
          startedAt: now,
        };
        this.objects.set(event.id, p);
        return p;
      }
      case "object-progress": {
        const p = this.objects.get(event.id);
        if (p) p.bytesRead = event.bytesRead;
        return p;
      }
      case "object-done": {
        const p = this.objects.get(event.outcome.id);
        if (p) {
          p.done = event.outcome.status;
          // What a finished object did not read (areas that turned out empty, a failure) will not be
          // read: the overall bar and ETA count what is still to come.
          p.bytesTotal = p.bytesRead;
        }
        return p;
      }
    }
  }

  totals(): { bytesTotal: number; bytesRead: number } {
    let bytesTotal = 0;
    let bytesRead = 0;
    for (const p of this.objects.values()) {
      bytesTotal += p.bytesTotal;
      bytesRead += p.bytesRead;
    }
    return { bytesTotal, bytesRead };
  }
}

/** Average rate since `startedAt`, and the ETA of the rest at that rate. */
export function rateAndEta(
  bytesRead: number,
  bytesTotal: number,
  startedAt: number,
  now: number,
): { rate: number | undefined; eta: number | undefined } {
  const seconds = (now - startedAt) / 1000;
  if (seconds <= 0 || bytesRead <= 0) return { rate: undefined, eta: undefined };
  const rate = bytesRead / seconds;
  return { rate, eta: Math.max(0, bytesTotal - bytesRead) / rate };
}

function fraction(read: number, total: number): number {
  return total === 0 ? 1 : read / total;
}

/** `sql-01   [####......]  41%  1.20 GiB/2.93 GiB  120 MiB/s  ETA 14s` */
export function formatLine(
  name: string,
  read: number,
  total: number,
  startedAt: number,
  now: number,
  barWidth: number,
): string {
  const { rate, eta } = rateAndEta(read, total, startedAt, now);
  const pct = `${Math.floor(fraction(read, total) * 100)}%`.padStart(4);
  const bar = barWidth > 0 ? ` ${formatBar(fraction(read, total), barWidth)}` : "";
  return `${name}${bar} ${pct}  ${formatBytes(read)}/${formatBytes(total)}  ${formatRate(rate)}  ETA ${formatEta(eta)}`;
}

/**
 * The TTY frame: one line per object not yet done, then the overall line. With `rows` known, the
 * frame keeps to `rows - 1` lines (a frame taller than the screen cannot be redrawn in place): the
 * objects that do not fit are counted on one line.
 */
export function renderFrame(state: ProgressState, now: number, columns: number, rows?: number): string[] {
  const active = [...state.objects.values()].filter((p) => p.done === undefined);
  const maxLines = rows !== undefined && rows > 0 ? Math.max(1, rows - 1) : Infinity;
  const shown = active.length + 1 <= maxLines ? active : active.slice(0, Math.max(0, maxLines - 2));
  const nameWidth = Math.min(24, Math.max(7, ...shown.map((p) => p.name.length)));
  const barWidth = Math.max(0, Math.min(30, columns - nameWidth - 60));
  const fit = (s: string) => (s.length > columns ? s.slice(0, Math.max(0, columns - 1)) : s);
  const lines = shown.map((p) =>
    fit(
      formatLine(
        p.name.slice(0, nameWidth).padEnd(nameWidth),
        p.bytesRead,
        p.bytesTotal,
        p.startedAt,
        now,
        barWidth,
      ),
    ),
  );
  if (shown.length < active.length && maxLines >= 2)
    lines.push(fit(`... and ${active.length - shown.length} more running`));
  const t = state.totals();
  const doneCount = state.objects.size - active.length;
  lines.push(
    fit(
      formatLine("overall".padEnd(nameWidth), t.bytesRead, t.bytesTotal, state.startedAt, now, barWidth) +
        `  ${doneCount}/${state.objects.size} done`,
    ),
  );
  return lines;
}

/** One JSON line per event, for `--json`. */
export function jsonLine(event: JobEvent, now: Date): string {
  return JSON.stringify({ time: now.toISOString(), ...event });
}
