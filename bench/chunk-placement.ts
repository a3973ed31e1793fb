/**
 * The figures behind INLINE_BYTES (src/repository/chunk-placement.ts): how fast the main thread
 * seals chunks itself, and how long the chunk workers take to answer their first chunk (their
 * start). The main thread's share should be about what it seals while the workers start.
 *
 *   node dist/bench/chunk-placement.js [--runs N]
 *
 * Each measurement runs in a fresh process (a worker's start is paid once per process).
 */
import { spawnSync } from "node:child_process";
import { availableParallelism, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ChunkWorkers } from "../src/repository/chunk-workers.js";
import { REGION, writeImage } from "./image.js";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";

const MiB = 1024 * 1024;

/** In a child: seals `mib` MiB of the image on the main thread, or the first 1 MiB on `workers`. */
async function child(mode: string, image: string): Promise<void> {
  const data = readFileSync(image);
  const t0 = performance.now();
  if (mode === "inline") {
    const w = new ChunkWorkers(1, { inlineBytes: Infinity });
    const scheme = w.scheme(null, 1);
    for (let at = 0; at < data.length; at += MiB) await w.seal(scheme, data.subarray(at, at + MiB));
  } else {
    const w = new ChunkWorkers(Number(mode), { inlineBytes: 0 });
    await w.seal(w.scheme(null, 1), data.subarray(0, MiB));
  }
  process.stdout.write(String(performance.now() - t0));
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const { values, positionals } = parseArgs({
  options: { runs: { type: "string", default: "7" } },
  allowPositionals: true,
});
if (positionals[0] === "child") await child(positionals[1]!, positionals[2]!);
else {
  const runs = Number(values.runs);
  const dir = mkdtempSync(join(tmpdir(), "snapvisor-placement-"));
  try {
    // 16 MiB of the repository benchmark's mix: random, zero and text regions.
    const image = join(dir, "mix.raw");
    await writeImage(image, 4 * REGION, 11);
    const self = fileURLToPath(import.meta.url);
    const time = (mode: string) => {
      const r = spawnSync(process.execPath, [self, "child", mode, image], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`child ${mode} failed: ${r.stderr}`);
      return Number(r.stdout);
    };
    const modes = ["inline", "1", String(availableParallelism())];
    const times = new Map<string, number[]>(modes.map((m) => [m, []]));
    for (let i = 0; i < runs; i++) for (const m of modes) times.get(m)!.push(time(m));
    console.log(`${runs} runs each, ${availableParallelism()} cpus, load ${loadavg()[0]!.toFixed(2)}`);
    const inline = median(times.get("inline")!);
    console.log(
      `main thread seals 16 MiB (mixed) in ${inline.toFixed(1)} ms: ${(inline / 16).toFixed(2)} ms/MiB`,
    );
    for (const m of modes.slice(1)) {
      const first = median(times.get(m)!);
      console.log(
        `first chunk answered by ${m} new worker(s) after ${first.toFixed(1)} ms ` +
          `(the main thread seals ~${((first / inline) * 16).toFixed(0)} MiB meanwhile)`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
