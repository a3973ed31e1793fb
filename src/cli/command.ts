import type { Writable } from "node:stream";

/** What a command may touch of the process: injected so tests run commands in-process. */
export interface CliIo {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdinIsTTY: boolean;
  readonly signal?: AbortSignal;
}

/** Documented exit codes (README "Exit codes"). */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  warnings: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** What a command does with its arguments (the words after its path). */
export type CommandRun = (args: readonly string[], io: CliIo) => Promise<ExitCode>;

/**
 * One entry of the command table (commands/index.ts). `run` loads the command's implementation module
 * on first use, so listing, matching and `--help` never import a command's dependencies.
 */
export interface Command {
  /** Words that select the command, e.g. ["repo", "init"]. */
  readonly path: readonly string[];
  readonly usage: string;
  readonly summary: string;
  run(args: readonly string[], io: CliIo): Promise<ExitCode>;
}
