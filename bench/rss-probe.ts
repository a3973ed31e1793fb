/**
 * Runs a command and prints its peak resident set size as PEAK_RSS_KB=N on stderr: VmHWM of the
 * child (and of the node child it may itself be), read from /proc just before it exits, via polling.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";

const [cmd, ...args] = process.argv.slice(2);
const child = spawn(cmd!, args, { stdio: ["ignore", "ignore", "inherit"] });
let peak = 0;
const sample = (): void => {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
    if (m) peak = Math.max(peak, Number(m[1]));
  } catch {
    // exited between samples
  }
};
const timer = setInterval(sample, 20);
child.on("exit", (code) => {
  clearInterval(timer);
  process.stderr.write(`PEAK_RSS_KB=${peak}\n`);
  process.exit(code ?? 1);
});
