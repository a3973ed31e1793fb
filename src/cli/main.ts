#!/usr/bin/env node
import "./threadpool.js";
import { runCli } from "./run.js";

// The reader of stdout went away (`snapvisor points list | head -1`): the rest of the output is
// dropped, as SIGPIPE would drop it, but the command still finishes its work (a backup still
// removes its snapshots; a restore to stdout fails on its own, see restoreToStream). Exit 141 as
// a program killed by SIGPIPE would, unless the command itself failed.
let stdoutGone = false;
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code !== "EPIPE" && err.code !== "ERR_STREAM_DESTROYED") throw err;
  stdoutGone = true;
  // The error may arrive after the command returned.
  if (!process.exitCode) process.exitCode = 141;
});

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  stdinIsTTY: process.stdin.isTTY === true,
});
process.exitCode = stdoutGone && code === 0 ? 141 : code;
