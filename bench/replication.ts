/**
 * Replication benchmark: two local repositories on this machine, each step a `snapvisor` process as
 * a user would run it. A seeded image (default 1 GiB: 60% random, 20% zero, 20% text regions) is
 * backed up and replicated (throughput of a first replication), then 1% of its 64 KiB blocks change,
 * an incremental is backed up and replicated again (bytes sent must be the incremental's new chunks
 * only). Run once unencrypted and once encrypted (blobs cross sealed, opened on arrival).
 *
 *   npm run build && node dist/bench/replication.js [--size 1G] [--chunk 4M] [--dir /tmp/x] [--no-encrypted]
 */
import { spawn, spawnSync } from "node:child_process";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parseSize } from "../src/repository/config.js";
import { changeBlocks, writeImage } from "./image.js";

const CLI = resolve("dist/src/cli/main.js");

function cli(args: string[], env: Record<string, string>): Promise<{ seconds: number; stdout: string }> {
  return new Promise((done, fail) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, [CLI, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("exit", (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) fail(new Error(`snapvisor ${args.join(" ")} failed (${code}): ${stderr.slice(-2000)}`));
      else done({ seconds, stdout });
    });
  });
}

interface Sent {
  chunksSent: number;
  bytesSent: number;
  chunksPresent: number;
}

const MB = 1e6;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      size: { type: "string", default: "1G" },
      chunk: { type: "string", default: "4M" },
      dir: { type: "string" },
      "no-encrypted": { type: "boolean" },
    },
  });
  const size = parseSize(values.size);
  const dir = values.dir ?? (await mkdtemp(join(tmpdir(), "snapvisor-bench-repl-")));
  const image = join(dir, "disk.raw");
  const extentsFile = join(dir, "extents.json");
  console.log(`image ${values.size}, chunk ${values.chunk}, in ${dir}`);
  await writeImage(image, size, 42);
  const changed = join(dir, "disk2.raw");
  await copyFile(image, changed);
  const extents = await changeBlocks(changed, size, 0.01, 43);
  await writeFile(extentsFile, JSON.stringify(extents));

  const variants = values["no-encrypted"] ? [false] : [false, true];
  for (const encrypted of variants) {
    const env: Record<string, string> = encrypted ? { SNAPVISOR_PASSPHRASE: "bench-passphrase" } : {};
    const src = join(dir, "src");
    const dst = join(dir, "dst");
    await rm(src, { recursive: true, force: true });
    await rm(dst, { recursive: true, force: true });
    const init = ["repo", "init", src, "--chunk-size", values.chunk, ...(encrypted ? ["--encrypt"] : [])];
    spawnSync(process.execPath, [CLI, ...init], { stdio: "ignore", env: { ...process.env, ...env } });
    spawnSync(process.execPath, [CLI, "repo", "init", dst, "--like", src], {
      stdio: "ignore",
      env: { ...process.env, ...env },
    });
    const backup = async (img: string, more: string[] = []) =>
      JSON.parse(
        (await cli(["backup", "image", img, "--repo", src, "--machine", "bench", "--json", ...more], env))
          .stdout,
      ) as { manifest: { stats: { bytesStored: number; bytesRead: number } } };
    const full = await backup(image);
    const first = await cli(["replicate", "--from", src, "--to", dst, "--json"], env);
    const firstSent = JSON.parse(first.stdout) as Sent;
    // Baseline on the same disk at the same moment: a plain copy of the chunk files, then sync.
    const copyDir = join(dir, "copy");
    await rm(copyDir, { recursive: true, force: true });
    const copyStart = process.hrtime.bigint();
    spawnSync("cp", ["-r", join(src, "chunks"), copyDir]);
    spawnSync("sync", ["-f", copyDir]);
    const copySeconds = Number(process.hrtime.bigint() - copyStart) / 1e9;
    await rm(copyDir, { recursive: true, force: true });
    const incr = await backup(changed, ["--changed", extentsFile]);
    const second = await cli(["replicate", "--from", src, "--to", dst, "--json"], env);
    const secondSent = JSON.parse(second.stdout) as Sent;
    const label = encrypted ? "encrypted" : "plain";
    console.log(
      `${label}: first replication ${firstSent.chunksSent} chunks, ${(firstSent.bytesSent / MB).toFixed(0)} MB stored bytes ` +
        `(of ${(full.manifest.stats.bytesStored / MB).toFixed(0)} MB in the source) in ${first.seconds.toFixed(2)} s = ` +
        `${(firstSent.bytesSent / MB / first.seconds).toFixed(0)} MB/s sent, ` +
        `${(size / MB / first.seconds).toFixed(0)} MB/s of disk; baseline cp -r + sync of the chunks: ` +
        `${copySeconds.toFixed(2)} s = ${(firstSent.bytesSent / MB / copySeconds).toFixed(0)} MB/s`,
    );
    console.log(
      `${label}: incremental (${extents.length} blocks of 64 KiB changed): ${secondSent.chunksSent} chunks, ` +
        `${(secondSent.bytesSent / MB).toFixed(1)} MB sent; the incremental stored ${(incr.manifest.stats.bytesStored / MB).toFixed(1)} MB; ` +
        `${secondSent.chunksPresent} chunks already there; ${second.seconds.toFixed(2)} s`,
    );
  }
  if (!values.dir) await rm(dir, { recursive: true, force: true });
}

await main();
