import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { DEMO_PASSWORD_ENV, labConfig, startLab, type Lab } from "../../src/cli/app/lab.js";
import { VirtualTerminal } from "./virtual-terminal.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
/** `script` (util-linux/bsdutils) runs a command under a new pseudo-terminal, if one can be opened here. */
const SCRIPT = spawnSync("script", ["-qec", "true", "/dev/null"], { stdio: "ignore" }).status === 0;

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Runs the CLI under a pty (stdin, stdout and stderr all the terminal); returns its exit code and output. */
async function underPty(
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ code: number | null; raw: string }> {
  const command = [process.execPath, MAIN, ...args].map(shellQuote).join(" ");
  // -e: exit with the command's code; -q: no start/done banner; /dev/null: no typescript file.
  const child = spawn("script", ["-qec", command, "/dev/null"], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const chunks: Buffer[] = [];
  child.stdout.on("data", (c: Buffer) => chunks.push(c));
  child.stderr.on("data", (c: Buffer) => chunks.push(c));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  return { code, raw: Buffer.concat(chunks).toString("utf8") };
}

describe(
  "snapvisor backup on a terminal (under a pseudo-terminal)",
  { skip: !SCRIPT && "no `script` or no pseudo-terminal here" },
  () => {
    let lab: Lab;
    let dir: string;
    let configFile: string;
    let env: Record<string, string>;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "snapvisor-tty-"));
      lab = await startLab({ dir });
      configFile = join(dir, "snapvisor.json");
      await writeFile(configFile, JSON.stringify(labConfig(lab, join(dir, "repo"))));
      env = { [DEMO_PASSWORD_ENV]: lab.vspherePassword, TERM: "xterm-256color", SNAPVISOR_LOG_LEVEL: "warn" };
      await promisify(execFile)(process.execPath, [MAIN, "repo", "init", join(dir, "repo")], {
        env: { ...process.env, ...env },
      });
    });
    after(async () => {
      await lab.stop();
      await rm(dir, { recursive: true, force: true });
    });

    it("draws per-VM and overall bars in place, logs above them, and ends with the overall bar and the summary", async () => {
      // One quiesce failure: the adapter logs a warning while the bars are up, then falls back.
      lab.hyperv.control.addFault({ kind: "vss-failure", vm: "sql-01", times: 1 });
      const { code, raw } = await underPty(
        ["backup", "--config", configFile, "--group", "lab-hyperv", "--vm", "sql-01", "--vm", "web-02"],
        env,
      );
      assert.equal(code, 0, raw);
      // The pty reported no width (nobody sized it): the writer assumed 80 columns.
      const term = new VirtualTerminal({ columns: 80, newlineReturns: false });
      term.write(raw);
      const screen = term.text();
      const shown = screen.join("\n");
      // Bars were drawn and redrawn (cursor moved up over the previous frame) ...
      assert.match(raw, new RegExp(String.raw`\u001b\[\d+F\u001b\[0J`), "the frame is redrawn in place");
      assert.match(
        raw,
        /sql-01 +\[[#.]+\] +\d+% {2}[\d.]+ \S+\/[\d.]+ \S+ {2}(?:[\d.]+ \S+|--)\/s {2}ETA \S+/,
        "a per-VM bar",
      );
      assert.doesNotMatch(shown, /started, .* to read/, "no plain progress lines on a terminal");
      // ... and what stays on screen is the log line, the final overall bar, then the summary.
      const warn = screen.findIndex((l) => l.includes("application-consistent checkpoint failed"));
      const overall = screen.findIndex((l) => /^overall +\[#+\] 100% .* 2\/2 done$/.test(l));
      const summary = screen.findIndex((l) => /^sql-01\s+ok\b/.test(l));
      assert.ok(warn >= 0 && overall > warn && summary > overall, shown);
      assert.equal(
        screen.filter((l) => l.startsWith("overall")).length,
        1,
        `one overall bar left:\n${shown}`,
      );
      assert.ok(
        screen.every((l) => l.length <= 80),
        shown,
      );
    });
  },
);
