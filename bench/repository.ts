/**
 * Repository benchmark (`npm run bench`): a seeded image (default 2 GiB), a full backup, an
 * incremental after changing 1% of its 64 KiB blocks, restores of both points, peak RSS of each
 * step (each runs as its own `snapvisor` process, as a user would run it), for 1 MiB and 4 MiB
 * chunks, and restic side by side when it is installed. Figures are medians of --runs runs.
 *
 *   node dist/bench/repository.js [--size 2G] [--runs 1] [--chunk 4M,1M] [--dir /tmp/x]
 */
import { spawn, spawnSync } from "node:child_process";
import { copyFile, mkdir, mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parseSize } from "../src/repository/config.js";
import { changeBlocks, writeImage } from "./image.js";

const CLI = resolve("dist/src/cli/main.js");
const RSS_PROBE = resolve("dist/bench/rss-probe.js");

interface Step {
  seconds: number;
  peakRssMiB: number;
  cpuSeconds: number;
}

/** Runs a command and reports wall time and the child's peak RSS (via /proc, sampled by a probe). */
function timed(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Step> {
  // Dirty pages (and discards of deleted files) left by the previous step are not this step's cost.
  spawnSync("sync");
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [RSS_PROBE, cmd, ...args], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, ...env },
    });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("exit", (code) => {
      const m = /PEAK_RSS_KB=(\d+)/.exec(stderr);
      const cpu = /CPU_MS=(\d+)/.exec(stderr);
      const wall = /WALL_MS=([\d.]+)/.exec(stderr);
      if (code !== 0 || !m || !cpu || !wall)
        fail(new Error(`${cmd} ${args.join(" ")} failed (${code}): ${stderr.slice(-2000)}`));
      else
        done({
          // The command's own time, without the probe's start.
          seconds: Number(wall[1]) / 1000,
          peakRssMiB: Number(m[1]) / 1024,
          cpuSeconds: Number(cpu[1]) / 1000,
        });
    });
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mbps = (bytes: number, s: number): string => `${(bytes / 1e6 / s).toFixed(0)} MB/s`;

/**
 * On a virtual machine, the first write into memory the guest never touched costs a host page
 * fault per page: measured here, 1 GiB into a new file took 5.4 s of system time on fresh memory
 * and 0.27 s on memory freed a moment before. Whichever tool ran first would pay for it, so the
 * benchmark first writes and deletes a scratch file of `bytes`, leaving that much warm memory free
 * for every step (a long-running host's memory is warm anyway).
 */
async function warmMemory(path: string, bytes: number): Promise<void> {
  const started = process.hrtime.bigint();
  const fh = await open(path, "w");
  const block = Buffer.alloc(8 * 1024 * 1024, 1);
  try {
    for (let off = 0; off < bytes; off += block.length) await fh.write(block, 0, block.length, off);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rm(path);
  spawnSync("sync");
  const s = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(`memory warmed: ${(bytes / 2 ** 30).toFixed(1)} GiB written and freed in ${s.toFixed(1)} s`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      size: { type: "string", default: "2G" },
      runs: { type: "string", default: "1" },
      chunk: { type: "string", default: "4M,1M" },
      dir: { type: "string" },
      "no-restic": { type: "boolean" },
      warm: { type: "string" },
    },
  });
  const size = parseSize(values.size);
  const runs = Number(values.runs);
  const dir = values.dir ?? (await mkdtemp(join(tmpdir(), "snapvisor-bench-")));
  await mkdir(dir, { recursive: true });
  const image = join(dir, "disk.raw");
  const changedImage = join(dir, "disk2.raw");
  const extentsFile = join(dir, "extents.json");
  console.log(
    `image ${values.size} (60% random, 20% zero, 20% text regions of 4 MiB) in ${dir}; ${runs} run(s) each`,
  );
  await warmMemory(join(dir, "warm.scratch"), values.warm ? parseSize(values.warm) : 4 * size);
  await writeImage(image, size, 42);
  await copyFile(image, changedImage);
  const extents = await changeBlocks(changedImage, size, 0.01, 43);
  await writeFile(extentsFile, JSON.stringify(extents));
  // The images just written are dirty in the page cache: flush them so no backup pays for them.
  spawnSync("sync");
  const changedBytes = extents.reduce((n, e) => n + e.length, 0);
  console.log(
    `incremental: ${extents.length} blocks of 64 KiB changed (${(changedBytes / 2 ** 20).toFixed(0)} MiB)`,
  );

  const results: Record<
    string,
    { full: number; incr: number; restoreFull: number; restoreIncr: number; rss: number; stored?: string }
  > = {};
  for (const chunk of values.chunk.split(",")) {
    const full: number[] = [];
    const incr: number[] = [];
    const rFull: number[] = [];
    const rIncr: number[] = [];
    let rss = 0;
    for (let r = 0; r < runs; r++) {
      const repo = join(dir, `repo-${chunk}`);
      await rm(repo, { recursive: true, force: true });
      spawnSync(process.execPath, [CLI, "repo", "init", repo, "--chunk-size", chunk], { stdio: "ignore" });
      const f = await timed(process.execPath, [
        CLI,
        "backup",
        "image",
        image,
        "--repo",
        repo,
        "--machine",
        "bench",
      ]);
      const i = await timed(process.execPath, [
        CLI,
        "backup",
        "image",
        changedImage,
        "--repo",
        repo,
        "--machine",
        "bench",
        "--changed",
        extentsFile,
      ]);
      const points = JSON.parse(
        `[${spawnSync(process.execPath, [CLI, "points", "list", "--repo", repo, "--json"], { encoding: "utf8" }).stdout.trim().split("\n").join(",")}]`,
      ) as { point: string }[];
      const out = join(dir, "restore.raw");
      const rf = await timed(process.execPath, [
        CLI,
        "restore",
        points[0]!.point,
        "--repo",
        repo,
        "--out",
        out,
      ]);
      await rm(out, { force: true });
      const ri = await timed(process.execPath, [
        CLI,
        "restore",
        points[1]!.point,
        "--repo",
        repo,
        "--out",
        out,
      ]);
      await rm(out, { force: true });
      full.push(f.seconds);
      incr.push(i.seconds);
      rFull.push(rf.seconds);
      rIncr.push(ri.seconds);
      rss = Math.max(rss, f.peakRssMiB, i.peakRssMiB, rf.peakRssMiB, ri.peakRssMiB);
      console.log(
        `  run ${r + 1}: peak RSS MiB: full ${f.peakRssMiB.toFixed(0)}, incremental ${i.peakRssMiB.toFixed(0)}, ` +
          `restore ${rf.peakRssMiB.toFixed(0)} / ${ri.peakRssMiB.toFixed(0)}; CPU s (user+sys): full ${f.cpuSeconds.toFixed(2)}, ` +
          `incremental ${i.cpuSeconds.toFixed(2)}, restore ${rf.cpuSeconds.toFixed(2)} / ${ri.cpuSeconds.toFixed(2)}; ` +
          `load ${loadavg()[0]!.toFixed(1)}`,
      );
      const du = spawnSync("du", ["-sb", repo], { encoding: "utf8" }).stdout.split("\t")[0];
      results[chunk] = {
        full: 0,
        incr: 0,
        restoreFull: 0,
        restoreIncr: 0,
        rss: 0,
        stored: `${(Number(du) / 2 ** 20).toFixed(0)} MiB`,
      };
    }
    results[chunk] = {
      ...results[chunk],
      full: median(full),
      incr: median(incr),
      restoreFull: median(rFull),
      restoreIncr: median(rIncr),
      rss,
    };
    const x = results[chunk];
    console.log(
      `snapvisor chunk ${chunk}: full ${x.full.toFixed(2)} s (${mbps(size, x.full)}), incremental ${x.incr.toFixed(2)} s, ` +
        `restore full ${mbps(size, x.restoreFull)}, restore incremental ${mbps(size, x.restoreIncr)}, peak RSS ${x.rss.toFixed(0)} MiB, repo ${x.stored}`,
    );
  }

  const hasRestic = !values["no-restic"] && spawnSync("restic", ["version"]).status === 0;
  if (!hasRestic) console.log("restic not installed: no side-by-side comparison (apt-get install restic)");
  else {
    const rfull: number[] = [];
    const rincr: number[] = [];
    for (let r = 0; r < runs; r++) {
      const repo = join(dir, "restic");
      await rm(repo, { recursive: true, force: true });
      const env = { RESTIC_PASSWORD: "bench", RESTIC_REPOSITORY: repo };
      spawnSync("restic", ["init"], { env: { ...process.env, ...env }, stdio: "ignore" });
      // Same file name both times, as restic sees an image that changed in place.
      const work = join(dir, "restic-input");
      await rm(work, { recursive: true, force: true });
      spawnSync("mkdir", ["-p", work]);
      await copyFile(image, join(work, "disk.raw"));
      const f = await timed("restic", ["backup", "--quiet", work], env);
      await copyFile(changedImage, join(work, "disk.raw"));
      const i = await timed("restic", ["backup", "--quiet", work], env);
      rfull.push(f.seconds);
      rincr.push(i.seconds);
      console.log(
        `  restic run ${r + 1}: full ${f.seconds.toFixed(2)} s (CPU ${f.cpuSeconds.toFixed(2)} s), incremental ${i.seconds.toFixed(2)} s (CPU ${i.cpuSeconds.toFixed(2)} s), load ${loadavg()[0]!.toFixed(1)}`,
      );
    }
    const f = median(rfull);
    const i = median(rincr);
    console.log(
      `restic ${spawnSync("restic", ["version"], { encoding: "utf8" }).stdout.trim().split(" ")[1]}: full ${f.toFixed(2)} s (${mbps(size, f)}), incremental ${i.toFixed(2)} s`,
    );
    for (const [chunk, x] of Object.entries(results)) {
      console.log(
        `ratio (chunk ${chunk}): full ${(f / x.full).toFixed(1)}x restic's throughput, incremental ${(i / x.incr).toFixed(1)}x faster than restic`,
      );
    }
  }
  if (!values.dir) await rm(dir, { recursive: true, force: true });
}

await main();
