/**
 * The application logger: pino writing JSON lines, with every secret-looking field redacted at any
 * depth up to four levels (pino's redaction matches fixed paths, so the wildcard paths are listed
 * per depth). Core code never imports this: it receives a `Logger` (ports.ts).
 */
import { pino, type DestinationStream } from "pino";
import type { Logger } from "../domain/ports.js";

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

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? "info",
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
