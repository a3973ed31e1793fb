/**
 * Progress output of a backup job, three ways: redrawn bars on a TTY, plain lines elsewhere (start,
 * every 25 %, done), JSON lines with `--json`. Formatting lives in progress-format.ts; these writers
 * only choose when to print, and keep other output written to the same terminal from tearing the
 * bars. Time comes from the injected clock.
 */
import { Writable } from "node:stream";
import type { JobEvent } from "../controller/backup-job.js";
import type { Clock } from "../domain/ports.js";
import { ProgressState, formatBytes, formatLine, jsonLine, renderFrame } from "./progress-format.js";

export interface ProgressStream {
  write(chunk: string): unknown;
  readonly columns?: number;
  readonly rows?: number;
}

export type ProgressMode = "tty" | "plain" | "json";

export interface ProgressWriter {
  onEvent(event: JobEvent): void;
  /** Final redraw; leaves the cursor below the output, which later writes no longer touch. */
  finish(): void;
  /**
   * Writes other output (log lines, notices) to the same stream. On a TTY it goes above the bars:
   * the frame is erased, the text written, and the frame drawn again below it, so neither is torn.
   */
  interject(text: string): void;
}

/**
 * How progress is shown: JSON lines with `--json`, bars when the progress stream is a terminal that
 * can move its cursor (not `TERM=dumb`), plain lines otherwise (pipes, files, CI logs).
 */
export function chooseProgressMode(options: {
  json: boolean;
  isTTY: boolean | undefined;
  term: string | undefined;
}): ProgressMode {
  if (options.json) return "json";
  return options.isTTY === true && options.term !== "dumb" ? "tty" : "plain";
}

/** Minimum time between two TTY redraws. */
const REDRAW_MS = 100;
const PLAIN_STEP = 0.25;
/** Used when a terminal reports no width (a pty nobody sized reports 0 columns). */
const DEFAULT_COLUMNS = 80;

export function createProgressWriter(
  mode: ProgressMode,
  stream: ProgressStream,
  clock: Clock,
): ProgressWriter {
  const now = () => clock.now().getTime();
  const state = new ProgressState(now());
  const passThrough = (text: string) => void stream.write(text);
  if (mode === "json") {
    return {
      onEvent: (e) => void stream.write(jsonLine(e, clock.now()) + "\n"),
      finish() {},
      interject: passThrough,
    };
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
      interject: passThrough,
    };
  }
  /** Lines of the frame on screen, the cursor being on the line below them. */
  let drawn = 0;
  let frame: string[] = [];
  let lastDraw = -Infinity;
  let finished = false;
  // Move to the first line of the frame on screen and clear to the end of the screen.
  const erase = () => (drawn > 0 ? `\x1b[${drawn}F\x1b[0J` : "");
  const draw = (force: boolean) => {
    const t = now();
    if (finished || (!force && t - lastDraw < REDRAW_MS)) return;
    lastDraw = t;
    const columns = stream.columns !== undefined && stream.columns > 0 ? stream.columns : DEFAULT_COLUMNS;
    frame = renderFrame(state, t, columns, stream.rows);
    stream.write(`${erase()}${frame.join("\n")}\n`);
    drawn = frame.length;
  };
  return {
    onEvent(e) {
      state.apply(e, now());
      draw(e.type !== "object-progress");
    },
    finish() {
      draw(true);
      finished = true;
      drawn = 0;
    },
    interject(text) {
      if (text === "") return;
      const line = text.endsWith("\n") ? text : `${text}\n`;
      stream.write(drawn > 0 ? `${erase()}${line}${frame.join("\n")}\n` : text);
    },
  };
}

/**
 * A stream for everything else the command writes to the progress stream (its pino logger, the
 * signal notice), routed through `interject` so log lines and bars share a terminal cleanly.
 */
export function interjectingStream(writer: ProgressWriter): Writable {
  return new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _encoding, callback) {
      writer.interject(typeof chunk === "string" ? chunk : chunk.toString("utf8"));
      callback();
    },
  });
}
