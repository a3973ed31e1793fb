#!/usr/bin/env node
import "./threadpool.js";
import { runCli } from "./run.js";

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  stdinIsTTY: process.stdin.isTTY === true,
});
