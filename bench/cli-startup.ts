/**
 * How long the CLI takes to start and do a small job, against bare `node -e 0`: each case runs as a
 * child process N times and the median and minimum wall times are printed. Cases run round-robin
 * (one run of each per round) so a change of machine load hits all of them alike.
 *
 *   node dist/bench/cli-startup.js [--runs N] [--cli PATH]...
 *
 * `--cli` may be given several times (e.g. a build of main and this one) to compare them in one run;
 * the default is this build's dist/src/cli/main.js. Results: docs/cli-startup.md.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { changeBlocks, writeImage } from "./image.js";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "15" }, cli: { type: "string", multiple: true } },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1)
  throw new Error(`--runs expects a whole number, got "${values.runs}"`);
const here = dirname(fileURLToPath(import.meta.url));
const clis = (values.cli ?? [join(here, "..", "src", "cli", "main.js")]).map((p) => resolve(p));

const IMAGE_SIZE = 8 * 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), "snapvisor-cli-startup-"));

/** Runs node with `args`; throws when it fails, so a broken case never reports a time. */
function node(args: readonly string[]): { ms: number; stdout: string } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`node ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return { ms, stdout: r.stdout };
}

interface Case {
  readonly name: string;
  readonly args: readonly string[];
}

function cases(cli: string, tag: string, i: number, basePoint: string): Case[] {
  const d = join(dir, `${i}`);
  const img = join(d, "disk.raw");
  return [
    { name: `${tag}--help`, args: [cli, "--help"] },
    { name: `${tag}points list (empty repo)`, args: [cli, "points", "list", "--repo", join(d, "empty")] },
    {
      name: `${tag}backup image --changed (8 MiB, 1 block)`,
      args: [cli, "backup", "image", img, "--repo", join(d, "repo"), "--machine", "m1"].concat([
        "--changed",
        join(d, "changed.json"),
      ]),
    },
    {
      name: `${tag}restore (8 MiB)`,
      args: [cli, "restore", basePoint, "--repo", join(d, "repo"), "--out", join(d, "restored.raw")],
    },
  ];
}

/**
 * Per CLI: an empty repository, and one holding a base backup of an 8 MiB image of which one 64 KiB
 * block then changes. Returns the base point's id.
 */
async function prepare(cli: string, i: number): Promise<string> {
  const d = join(dir, `${i}`);
  const img = join(d, "disk.raw");
  node([cli, "repo", "init", join(d, "empty")]);
  node([cli, "repo", "init", join(d, "repo")]);
  await writeImage(img, IMAGE_SIZE, 7);
  const base = node([cli, "backup", "image", img, "--repo", join(d, "repo"), "--machine", "m1", "--json"]);
  writeFileSync(join(d, "changed.json"), JSON.stringify(await changeBlocks(img, IMAGE_SIZE, 1 / 128, 8)));
  return (JSON.parse(base.stdout) as { pointId: string }).pointId;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

try {
  const all: Case[] = [{ name: "node -e 0", args: ["-e", "0"] }];
  for (const [i, cli] of clis.entries()) {
    const basePoint = await prepare(cli, i);
    all.push(...cases(cli, clis.length > 1 ? `[${i}] ` : "", i, basePoint));
  }
  const before = loadavg();
  const times = new Map<string, number[]>(all.map((c) => [c.name, []]));
  for (let r = 0; r < runs; r++) for (const c of all) times.get(c.name)!.push(node(c.args).ms);
  const after = loadavg();
  const fmt = (l: number[]) => l.map((x) => x.toFixed(2)).join(" ");
  console.log(`${runs} runs each, ${availableParallelism()} cpus, load ${fmt(before)} -> ${fmt(after)}`);
  for (const [i, cli] of clis.entries()) if (clis.length > 1) console.log(`[${i}] ${cli}`);
  const width = Math.max(...all.map((c) => c.name.length));
  console.log(`${"case".padEnd(width)}  median ms  min ms`);
  for (const c of all) {
    const t = times.get(c.name)!;
    console.log(
      `${c.name.padEnd(width)}  ${median(t).toFixed(0).padStart(9)}  ${Math.min(...t)
        .toFixed(0)
        .padStart(6)}`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
