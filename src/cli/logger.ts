/**
 * The application logger: pino writing JSON lines, with every secret-looking field redacted at any
 * depth up to four levels (pino's redaction matches fixed paths, so the wildcard paths are listed
 * per depth). Core code never imports this: it receives a `Logger` (ports.ts).
 *
 * pino itself is loaded when the first line at or above the level is written: a command that logs
 * nothing (most runs at the CLI's default level, warn) never pays for loading it (docs/cli-startup.md).
 */
import { createRequire } from "node:module";
import type { DestinationStream, pino as pinoFactory } from "pino";
import type { Logger } from "../domain/ports.js";

const require = createRequire(import.meta.url);

/** Field names whose values never reach a log, whatever object holds them. */
export const SECRET_KEYS = [
  "password",
  "passphrase",
  "keyPassphrase",
  "secret",
  "token",
  "authorization",
  "Authorization",
  "cookie",
  "Cookie",
  '"set-cookie"',
  "privateKey",
] as const;

export const REDACTED = "[redacted]";

/** `password`, `*.password`, `*.*.password`, `*.*.*.password` for each secret key. */
export function redactPaths(depth = 4): string[] {
  const out: string[] = [];
  for (const key of SECRET_KEYS) {
    for (let d = 0; d < depth; d++) out.push(`${"*.".repeat(d)}${key}`);
  }
  return out;
}

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

export interface LoggerOptions {
  readonly level?: LogLevel;
  /** Where JSON lines go (stderr in the CLI, a buffer in tests). */
  readonly destination: DestinationStream;
  readonly bindings?: Record<string, unknown>;
}

/** pino's numbers for our levels: a line is written when its level is at least the logger's. */
const LEVEL_VALUES: Readonly<Record<LogLevel, number>> = {
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  silent: Infinity,
};

/**
 * A Logger that makes its real logger (and its parent's) on the first line it writes; lines below
 * `threshold` are dropped before that, as the real logger would drop them.
 */
class DeferredLogger implements Logger {
  readonly #make: () => Logger;
  readonly #threshold: number;
  #real: Logger | undefined;

  constructor(make: () => Logger, threshold: number) {
    this.#make = make;
    this.#threshold = threshold;
  }

  #logger(): Logger {
    return (this.#real ??= this.#make());
  }

  debug(obj: object, msg?: string): void {
    if (this.#threshold <= LEVEL_VALUES.debug) this.#logger().debug(obj, msg);
  }
  info(obj: object, msg?: string): void {
    if (this.#threshold <= LEVEL_VALUES.info) this.#logger().info(obj, msg);
  }
  warn(obj: object, msg?: string): void {
    if (this.#threshold <= LEVEL_VALUES.warn) this.#logger().warn(obj, msg);
  }
  error(obj: object, msg?: string): void {
    if (this.#threshold <= LEVEL_VALUES.error) this.#logger().error(obj, msg);
  }
  child(bindings: Record<string, unknown>): Logger {
    return new DeferredLogger(() => this.#logger().child(bindings), this.#threshold);
  }
}

export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? "info";
  return new DeferredLogger(() => pinoLogger(level, options), LEVEL_VALUES[level]);
}

function pinoLogger(level: LogLevel, options: LoggerOptions): Logger {
  const { pino } = require("pino") as { pino: typeof pinoFactory };
  return pino(
    {
      level,
      base: { ...options.bindings },
      redact: { paths: redactPaths(), censor: REDACTED },
      // Errors keep their code and message; stacks only at debug level.
      serializers: { err: pino.stdSerializers.err },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination,
  );
}

/** A child logger for one job: every line carries the job id. */
export function jobLogger(root: Logger, jobId: string): Logger {
  return root.child({ job: jobId });
}

/** A child logger for one hypervisor host or endpoint within a job. */
export function hostLogger(parent: Logger, host: string): Logger {
  return parent.child({ host });
}
