/**
 * Restore benchmark: `snapvisor restore` of the repository benchmark's image (bench/image.ts), for
 * one or more builds of the CLI round-robin, so that the machine's load hits every build alike;
 * medians and minimums of wall time (the whole process, as a user runs it), CPU and peak RSS.
 * With --sparse, the peak RSS of restoring a mostly empty disk of that size (a few written areas).
 * With --ceiling, the same I/O without snapvisor: every chunk file read with O_DIRECT and the image
 * written with O_DIRECT by `dd`-like C (bench/raw-copy.c, built with cc), what the disk allows.
 *
 *   node dist/bench/restore.js [--size 2G] [--chunk 4M,1M] [--runs 5] [--dir D] [--cli PATH]...
 *                              [--sparse 2T] [--ceiling]
 */
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parseSize } from "../src/repository/config.js";
import { openLocalRepository } from "../src/repository/open.js";
import { keys } from "../src/repository/repository.js";
import { writePoint } from "../src/repository/writer.js";
import { openDiskImage } from "../src/disk/open-image.js";
import { writeImage } from "./image.js";

const RSS_PROBE = resolve("dist/bench/rss-probe.js");

interface Sample {
  seconds: number;
  cpuSeconds: number;
  peakRssMiB: number;
}

/** Runs `node CLI args` under the RSS probe (bench/rss-probe.ts) after flushing dirty pages. */
function run(cli: string, args: string[]): Sample {
  spawnSync("sync");
  const started = process.hrtime.bigint();
  const child = spawnSync(process.execPath, [RSS_PROBE, process.execPath, cli, ...args], {
    encoding: "utf8",
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const rss = /PEAK_RSS_KB=(\d+)/.exec(child.stderr);
  const cpu = /CPU_MS=(\d+)/.exec(child.stderr);
  if (child.status !== 0 || !rss || !cpu) throw new Error(`${cli} ${args.join(" ")} failed: ${child.stderr}`);
  return { seconds, cpuSeconds: Number(cpu[1]) / 1000, peakRssMiB: Number(rss[1]) / 1024 };
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const min = (xs: readonly number[]): number => Math.min(...xs);

/**
 * Backs `image` up into a new repository of `chunk` chunks; returns the point id. A repository left
 * by an earlier run in the same --dir is reused (its point id is kept beside it).
 */
async function backup(cli: string, repoDir: string, chunk: string, image: string, areas?: Area[]) {
  const kept = (await readFile(`${repoDir}.point`, "utf8").catch(() => "")).trim();
  if (kept) return kept;
  await rm(repoDir, { recursive: true, force: true });
  spawnSync(process.execPath, [cli, "repo", "init", repoDir, "--chunk-size", chunk], { stdio: "ignore" });
  const opened = await openLocalRepository(repoDir, {
    mode: "backup",
    command: "bench",
    passphrase: () => Promise.resolve(undefined),
  });
  const source = await openDiskImage(image);
  try {
    // A sparse image is read where it was written only (the areas), as CBT's changeId "*" reports.
    const { ref } = await writePoint(opened.repo, {
      machine: { id: "bench", name: "bench", hypervisor: "image" },
      disks: [
        {
          key: "disk0",
          capacity: source.capacity,
          source,
          changed: areas ?? "all",
          ...(areas ? { unchangedFrom: "zero" as const } : {}),
        },
      ],
      consistency: { expected: "crash", achieved: "crash", reason: "bench" },
    });
    await writeFile(`${repoDir}.point`, ref.pointId);
    return ref.pointId;
  } finally {
    await source.close();
    await opened.close();
  }
}

interface Area {
  start: number;
  length: number;
}

/** A sparse image of `size` bytes with five 64 MiB areas copied from `from`. */
async function sparseImage(path: string, size: number, from: string): Promise<Area[]> {
  const areas = [0, 0.1, 0.37, 0.5, 0.93].map((f) => ({
    start: Math.floor((size * f) / 2 ** 20) * 2 ** 20,
    length: 64 * 2 ** 20,
  }));
  const src = await open(from, "r");
  const fh = await open(path, "w");
  const block = Buffer.alloc(areas[0]!.length);
  try {
    await fh.truncate(size);
    for (const [i, a] of areas.entries()) {
      await src.read(block, 0, block.length, i * block.length);
      await fh.write(block, 0, block.length, a.start);
    }
  } finally {
    await fh.close();
    await src.close();
  }
  return areas;
}

/** Lines "PATH OFFSET LENGTH" of the point's data slots, for the C ceiling. */
async function slotList(repoDir: string, pointId: string, out: string): Promise<void> {
  const opened = await openLocalRepository(repoDir, {
    mode: "read",
    command: "bench",
    passphrase: () => Promise.resolve(undefined),
  });
  try {
    const ref = await opened.repo.findPoint(pointId);
    const index = await opened.repo.readIndex(await opened.repo.readManifest(ref), "disk0");
    const lines: string[] = [];
    for (let s = 0; s < index.count; s++) {
      if (index.isZero(s)) continue;
      const key = keys.chunk(index.id(s).toString("hex"));
      lines.push(`${join(repoDir, key)} ${s * index.chunkSize} ${index.slotLength(s)}`);
    }
    await writeFile(out, `${lines.join("\n")}\n`);
  } finally {
    await opened.close();
  }
}

function report(label: string, size: number, xs: readonly Sample[]): void {
  const s = xs.map((x) => x.seconds);
  console.log(
    `${label}: median ${median(s).toFixed(2)} s (${(size / 1e6 / median(s)).toFixed(0)} MB/s), min ${min(s).toFixed(2)} s ` +
      `(${(size / 1e6 / min(s)).toFixed(0)} MB/s), CPU ${median(xs.map((x) => x.cpuSeconds)).toFixed(2)} s, ` +
      `peak RSS ${Math.max(...xs.map((x) => x.peakRssMiB)).toFixed(0)} MiB; runs ${s.map((x) => x.toFixed(2)).join(" ")}`,
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      size: { type: "string", default: "2G" },
      chunk: { type: "string", default: "4M,1M" },
      runs: { type: "string", default: "5" },
      dir: { type: "string" },
      cli: { type: "string", multiple: true },
      sparse: { type: "string" },
      ceiling: { type: "boolean" },
    },
  });
  const size = parseSize(values.size);
  const runs = Number(values.runs);
  const clis = (values.cli ?? ["dist/src/cli/main.js"]).map((c) => resolve(c));
  const dir = values.dir ?? (await mkdtemp(join(tmpdir(), "snapvisor-restore-")));
  await mkdir(dir, { recursive: true });
  const image = join(dir, "disk.raw");
  const out = join(dir, "out.raw");
  if (!(await stat(image).catch(() => undefined))) await writeImage(image, size, 42);
  const chunks = values.chunk.split(",");
  const points = new Map<string, string>();
  for (const chunk of chunks)
    points.set(chunk, await backup(clis[0]!, join(dir, `repo-${chunk}`), chunk, image));
  // What the restores write must not be paid for by the next one (see bench/repository.ts).
  spawnSync("sync");

  let ceiling: string | undefined;
  if (values.ceiling) {
    ceiling = join(dir, "raw-copy");
    const built = spawnSync("cc", ["-O2", "-o", ceiling, resolve("bench/raw-copy.c"), "-lpthread"]);
    if (built.status !== 0) throw new Error(`cc failed: ${built.stderr.toString()}`);
    for (const chunk of chunks)
      await slotList(join(dir, `repo-${chunk}`), points.get(chunk)!, join(dir, `slots-${chunk}`));
  }

  console.log(
    `restore of a ${values.size} image, ${runs} runs round-robin; load ${loadavg()[0]!.toFixed(1)}`,
  );
  const samples = new Map<string, Sample[]>();
  const add = (label: string, s: Sample): void => void samples.set(label, [...(samples.get(label) ?? []), s]);
  for (let r = 0; r < runs; r++) {
    for (const chunk of chunks) {
      const repoDir = join(dir, `repo-${chunk}`);
      for (const [i, cli] of clis.entries()) {
        await rm(out, { force: true });
        add(`[${i}] ${chunk}`, run(cli, ["restore", points.get(chunk)!, "--repo", repoDir, "--out", out]));
      }
      if (ceiling) {
        await rm(out, { force: true });
        spawnSync("sync");
        const started = process.hrtime.bigint();
        const c = spawnSync(ceiling, [join(dir, `slots-${chunk}`), out, "4"], { encoding: "utf8" });
        if (c.status !== 0) throw new Error(`raw-copy failed: ${c.stderr}`);
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        add(`ceiling ${chunk}`, { seconds, cpuSeconds: 0, peakRssMiB: 0 });
      }
    }
  }
  await rm(out, { force: true });
  for (const [i, cli] of clis.entries()) console.log(`[${i}] ${cli}`);
  for (const [label, xs] of samples) report(label, size, xs);
  console.log(`load ${loadavg()[0]!.toFixed(1)}`);

  if (values.sparse) {
    const big = parseSize(values.sparse);
    const sparse = join(dir, `sparse-${values.sparse}.raw`);
    const areas = await sparseImage(sparse, big, image);
    for (const chunk of chunks) {
      const repoDir = join(dir, `sparse-${values.sparse}-${chunk}`);
      const pointId = await backup(clis[0]!, repoDir, chunk, sparse, areas);
      for (const [i, cli] of clis.entries()) {
        await rm(out, { force: true });
        const s = run(cli, ["restore", pointId, "--repo", repoDir, "--out", out]);
        console.log(
          `[${i}] sparse ${values.sparse} (${areas.length} areas of 64 MiB), chunk ${chunk}: ` +
            `${s.seconds.toFixed(2)} s, CPU ${s.cpuSeconds.toFixed(2)} s, peak RSS ${s.peakRssMiB.toFixed(0)} MiB`,
        );
      }
    }
    await rm(out, { force: true });
  }
  if (!values.dir) await rm(dir, { recursive: true, force: true });
}

await main();
