/**
 * Runs a command and prints its peak resident set size as PEAK_RSS_KB=N on stderr: VmHWM of the
 * child (and of the node child it may itself be), read from /proc just before it exits, via polling.
 * Also CPU_MS=N: the child's user + system CPU time (all threads) at the last sample, which says
 * what a step costs even when other work shares the machine. And WALL_MS=N: from just before the
 * spawn to the child's exit, so that the probe's own start (a node process, ~50-70 ms) is not
 * counted against the command it measures (it was: 20% of a 0.3 s incremental, 1% of restic's).
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";

const [cmd, ...args] = process.argv.slice(2);
const started = process.hrtime.bigint();
const child = spawn(cmd!, args, { stdio: ["ignore", "ignore", "inherit"] });
let peak = 0;
let cpuTicks = 0;
const sample = (): void => {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
    if (m) peak = Math.max(peak, Number(m[1]));
    // Fields after the command name: state is field 3; utime and stime are fields 14 and 15.
    const stat = readFileSync(`/proc/${child.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    cpuTicks = Number(fields[11]) + Number(fields[12]);
  } catch {
    // exited between samples
  }
};
const timer = setInterval(sample, 20);
child.on("exit", (code) => {
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  clearInterval(timer);
  // Linux reports CPU times in clock ticks of 1/100 s (USER_HZ).
  process.stderr.write(`PEAK_RSS_KB=${peak}\nCPU_MS=${cpuTicks * 10}\nWALL_MS=${wallMs.toFixed(1)}\n`);
  process.exit(code ?? 1);
});
