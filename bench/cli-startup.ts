/**
 * How long the CLI takes to start and do a small job, against bare `node -e 0`: each case runs as a
 * child process N times and the median and minimum wall times are printed. Cases run round-robin
 * (one run of each per round) so a change of machine load hits all of them alike.
 *
 *   node dist/bench/cli-startup.js [--runs N] [--size MiB] [--cli PATH]...
 *
 * `--cli` may be given several times (e.g. a build of main and this one) to compare them in one run;
 * the default is this build's dist/src/cli/main.js. `--size` is the image's size (default 64 MiB).
 * Results: docs/cli-startup.md.
 */
import { randomFillSync } from "node:crypto";
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { writeImage } from "./image.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "15" },
    size: { type: "string", default: "64" },
    cli: { type: "string", multiple: true },
  },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1)
  throw new Error(`--runs expects a whole number, got "${values.runs}"`);
const sizeMiB = Number(values.size);
if (!Number.isInteger(sizeMiB) || sizeMiB < 1)
  throw new Error(`--size expects a whole number of MiB, got "${values.size}"`);
const here = dirname(fileURLToPath(import.meta.url));
const clis = (values.cli ?? [join(here, "..", "src", "cli", "main.js")]).map((p) => resolve(p));

const IMAGE_SIZE = sizeMiB * 1024 * 1024;
const BLOCK = 64 * 1024;
/** The block that changes: one 64 KiB block in the image's second MiB. */
const CHANGED = { start: 1024 * 1024 + 8 * BLOCK, length: BLOCK };
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
  /** Untimed, before each run. */
  readonly before?: () => void;
}

/** Writes new random bytes over the changed block, so the next incremental stores a new chunk. */
function rewriteBlock(img: string): void {
  const fd = openSync(img, "r+");
  try {
    writeSync(fd, randomFillSync(Buffer.alloc(CHANGED.length)), 0, CHANGED.length, CHANGED.start);
  } finally {
    closeSync(fd);
  }
}

function cases(cli: string, tag: string, i: number, basePoint: string): Case[] {
  const d = join(dir, `${i}`);
  const img = join(d, "disk.raw");
  const backup = [cli, "backup", "image", img, "--repo", join(d, "repo"), "--machine", "m1"];
  return [
    { name: `${tag}--help`, args: [cli, "--help"] },
    { name: `${tag}points list (empty repo)`, args: [cli, "points", "list", "--repo", join(d, "empty")] },
    {
      name: `${tag}backup image --changed (${sizeMiB} MiB, 1 block, seen)`,
      args: [...backup, "--changed", join(d, "changed.json")],
    },
    {
      name: `${tag}backup image --changed (${sizeMiB} MiB, 1 block, new)`,
      args: [...backup, "--changed", join(d, "changed.json")],
      before: () => rewriteBlock(img),
    },
    {
      name: `${tag}restore (${sizeMiB} MiB)`,
      args: [cli, "restore", basePoint, "--repo", join(d, "repo"), "--out", join(d, "restored.raw")],
    },
  ];
}

/**
 * Per CLI: an empty repository, and one holding a base backup of the image, of which one 64 KiB
 * block then changes. Returns the base point's id. The "seen" incremental stores that block's chunk
 * once and finds it stored in every later run; before each "new" one the block is rewritten, so
 * each run stores a new chunk, as a real incremental does.
 */
async function prepare(cli: string, i: number): Promise<string> {
  const d = join(dir, `${i}`);
  const img = join(d, "disk.raw");
  node([cli, "repo", "init", join(d, "empty")]);
  node([cli, "repo", "init", join(d, "repo")]);
  await writeImage(img, IMAGE_SIZE, 7);
  const base = node([cli, "backup", "image", img, "--repo", join(d, "repo"), "--machine", "m1", "--json"]);
  rewriteBlock(img);
  writeFileSync(join(d, "changed.json"), JSON.stringify([CHANGED]));
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
  for (let r = 0; r < runs; r++)
    for (const c of all) {
      c.before?.();
      times.get(c.name)!.push(node(c.args).ms);
    }
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
