/**
 * Progress output of a backup job, three ways: redrawn bars on a TTY, plain lines elsewhere (start,
 * every 25 %, done), JSON lines with `--json`. Formatting lives in progress-format.ts; these writers
 * only choose when to print. Time comes from the injected clock.
 */
import type { JobEvent } from "../controller/backup-job.js";
import type { Clock } from "../domain/ports.js";
import { ProgressState, formatBytes, formatLine, jsonLine, renderFrame } from "./progress-format.js";

export interface ProgressStream {
  write(chunk: string): unknown;
  readonly columns?: number;
}

export type ProgressMode = "tty" | "plain" | "json";

export interface ProgressWriter {
  onEvent(event: JobEvent): void;
  /** Final redraw; leaves the cursor below the output. */
  finish(): void;
}

/** Minimum time between two TTY redraws. */
const REDRAW_MS = 100;
const PLAIN_STEP = 0.25;

export function createProgressWriter(
  mode: ProgressMode,
  stream: ProgressStream,
  clock: Clock,
): ProgressWriter {
  const now = () => clock.now().getTime();
  const state = new ProgressState(now());
  if (mode === "json") {
    return { onEvent: (e) => void stream.write(jsonLine(e, clock.now()) + "\n"), finish() {} };
  }
  if (mode === "plain") {
    const lastStep = new Map<string, number>();
    return {
      onEvent(e) {
        const p = state.apply(e, now());
        if (e.type === "object-done") {
          const o = e.outcome;
          const why = o.status === "ok" || o.messages.length === 0 ? "" : ` (${o.messages.join("; ")})`;
          const read = p ? `, ${formatBytes(p.bytesRead)} read` : "";
          stream.write(`${o.name}: ${o.status}${read}${why}\n`);
          return;
        }
        if (!p) return;
        if (e.type === "object-start")
          stream.write(`${p.name}: started, ${formatBytes(p.bytesTotal)} to read\n`);
        else if (e.type === "object-progress") {
          const step = p.bytesTotal === 0 ? 1 : Math.floor(p.bytesRead / p.bytesTotal / PLAIN_STEP);
          if (step > (lastStep.get(p.id) ?? 0) && step < 1 / PLAIN_STEP) {
            lastStep.set(p.id, step);
            stream.write(formatLine(`${p.name}:`, p.bytesRead, p.bytesTotal, p.startedAt, now(), 0) + "\n");
          }
        }
      },
      finish() {},
    };
  }
  let drawn = 0;
  let lastDraw = -Infinity;
  const draw = (force: boolean) => {
    const t = now();
    if (!force && t - lastDraw < REDRAW_MS) return;
    lastDraw = t;
    const lines = renderFrame(state, t, stream.columns ?? 80);
    // Move up over the previous frame, clear to the end of the screen, draw the new one.
    const up = drawn > 0 ? `\x1b[${drawn}F` : "";
    stream.write(`${up}\x1b[0J${lines.join("\n")}\n`);
    drawn = lines.length;
  };
  return {
    onEvent(e) {
      state.apply(e, now());
      draw(e.type !== "object-progress");
    },
    finish: () => draw(true),
  };
}
