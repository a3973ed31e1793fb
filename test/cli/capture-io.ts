import { PassThrough } from "node:stream";
import type { CliIo } from "../../src/cli/command.js";

/** A CliIo whose output is collected in memory, for running commands in-process. */
export function captureIo(env: Record<string, string | undefined> = {}): CliIo & {
  out(): string;
  err(): string;
} {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const outChunks: Buffer[] = [];
  const errChunks: Buffer[] = [];
  stdout.on("data", (c: Buffer) => outChunks.push(c));
  stderr.on("data", (c: Buffer) => errChunks.push(c));
  return {
    stdout,
    stderr,
    env,
    stdinIsTTY: false,
    out: () => Buffer.concat(outChunks).toString("utf8"),
    err: () => Buffer.concat(errChunks).toString("utf8"),
  };
}
