import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { LocalStorage } from "../../src/repository/local-storage.js";
import { Repository } from "../../src/repository/repository.js";
import { restoreToFile } from "../../src/repository/restore.js";
import { verifyRepository } from "../../src/repository/verify.js";
import { seededBytes, withTempDir } from "./helpers.js";

const CLI = resolve("dist/src/cli/main.js");

function run(
  args: string[],
  options: { killAfterMs?: number } = {},
): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer =
      options.killAfterMs === undefined
        ? undefined
        : setTimeout(() => child.kill("SIGKILL"), options.killAfterMs);
    child.on("exit", (code, signal) => {
      if (timer) clearTimeout(timer);
      done({ code, signal, stderr });
    });
  });
}

async function tempFiles(repoDir: string): Promise<string[]> {
  const owners = await readdir(join(repoDir, "tmp")).catch(() => [] as string[]);
  const out: string[] = [];
  for (const o of owners) for (const f of await readdir(join(repoDir, "tmp", o))) out.push(`${o}/${f}`);
  return out;
}

describe("backups as separate processes", () => {
  it("a backup killed (SIGKILL) at many moments leaves no half-visible point; verify stays clean and the next backup succeeds", async () => {
    await withTempDir(async (dir) => {
      const repoDir = join(dir, "repo");
      const image = join(dir, "disk.raw");
      assert.equal((await run(["repo", "init", repoDir, "--chunk-size", "64K"])).code, 0);
      const data = seededBytes(24 * 1024 * 1024, 11);
      await writeFile(image, data);
      const versions = new Map<string, Buffer>(); // restored content each visible point must have
      let killed = 0;
      for (let i = 0; i < 12; i++) {
        // Each round changes the image a little, so every attempt has new chunks to write.
        seededBytes(65536 * 3, 100 + i).copy(data, 65536 * (i * 7));
        await writeFile(image, data);
        const result = await run(["backup", "image", image, "--repo", repoDir, "--machine", "m1"], {
          killAfterMs: 60 + i * 45,
        });
        if (result.signal === "SIGKILL") killed++;
        else assert.equal(result.code, 0, result.stderr);
        const repo = await Repository.open(new LocalStorage(repoDir));
        const points = await repo.listPoints();
        for (const p of points) if (!versions.has(p.pointId)) versions.set(p.pointId, Buffer.from(data));
        const report = await verifyRepository(repo, undefined);
        assert.deepEqual([report.brokenPoints, report.chunkProblems], [[], []], `after round ${i}`);
      }
      assert.ok(killed >= 3, `at least some rounds were killed mid-way (killed ${killed})`);

      // The next backup succeeds, breaks the dead processes' locks and cleans their temporary files.
      const next = await run(["backup", "image", image, "--repo", repoDir, "--machine", "m1"]);
      assert.equal(next.code, 0, next.stderr);
      assert.deepEqual(await tempFiles(repoDir), []);
      assert.deepEqual(await readdir(join(repoDir, "locks")), []);

      // Every visible point restores to exactly the image it was taken of.
      const repo = await Repository.open(new LocalStorage(repoDir));
      const points = await repo.listPoints();
      versions.set(points.at(-1)!.pointId, Buffer.from(data));
      for (const p of points) {
        const out = join(dir, `${p.pointId}.raw`);
        await restoreToFile(repo, p, "disk0", out);
        assert.ok((await readFile(out)).equals(versions.get(p.pointId)!), `point ${p.pointId}`);
      }
    });
  });

  it("incrementals stored as deltas, killed (SIGKILL) at many moments, leave every visible point whole", async () => {
    await withTempDir(async (dir) => {
      const repoDir = join(dir, "repo");
      const image = join(dir, "disk.raw");
      const extents = join(dir, "changed.json");
      assert.equal((await run(["repo", "init", repoDir, "--chunk-size", "256K"])).code, 0);
      const data = seededBytes(16 * 1024 * 1024, 21);
      await writeFile(image, data);
      assert.equal((await run(["backup", "image", image, "--repo", repoDir, "--machine", "m1"])).code, 0);
      const versions = new Map<string, Buffer>();
      const repo0 = await Repository.open(new LocalStorage(repoDir));
      versions.set((await repo0.listPoints()).at(-1)!.pointId, Buffer.from(data));
      let killed = 0;
      let committed = 0;
      // What the image holds at the newest visible point: a killed round's change is changed again.
      let pending: { start: number; length: number }[] = [];
      for (let i = 0; i < 10; i++) {
        // 40 scattered 64 KiB changes: one sub-block of 40 of the 64 slots, so each becomes a delta.
        const changed = Array.from({ length: 40 }, (_, k) => ({
          start: ((k * 3 + i) % 256) * 65536,
          length: 65536,
        }))
          .sort((a, b) => a.start - b.start)
          .filter((e, k, all) => k === 0 || e.start !== all[k - 1]!.start);
        for (const e of changed) seededBytes(e.length, 300 + i * 50 + e.start / 65536).copy(data, e.start);
        pending = mergeExtents([...pending, ...changed]);
        await writeFile(image, data);
        await writeFile(extents, JSON.stringify(pending));
        const result = await run(
          ["backup", "image", image, "--repo", repoDir, "--machine", "m1", "--changed", extents],
          // Odd rounds are killed at later and later moments; even rounds run to the end.
          i % 2 === 1 ? { killAfterMs: 120 + i * 40 } : {},
        );
        if (result.signal === "SIGKILL") killed++;
        else assert.equal(result.code, 0, result.stderr);
        const repo = await Repository.open(new LocalStorage(repoDir));
        const points = await repo.listPoints();
        for (const p of points)
          if (!versions.has(p.pointId)) {
            versions.set(p.pointId, Buffer.from(data));
            pending = [];
            committed++;
          }
        const report = await verifyRepository(repo, undefined);
        assert.deepEqual([report.brokenPoints, report.chunkProblems], [[], []], `after round ${i}`);
      }
      assert.ok(killed >= 2, `at least some rounds were killed mid-way (killed ${killed})`);
      assert.ok(committed >= 2, `some rounds committed (${committed})`);
      const repo = await Repository.open(new LocalStorage(repoDir));
      let deltas = 0;
      for (const p of await repo.listPoints()) {
        const manifest = await repo.readManifest(p);
        deltas += (await repo.readIndex(manifest, "disk0")).deltaCount;
        const out = join(dir, `${p.pointId}.raw`);
        await restoreToFile(repo, p, "disk0", out);
        assert.ok((await readFile(out)).equals(versions.get(p.pointId)!), `point ${p.pointId}`);
      }
      assert.ok(deltas > 0, "the incrementals stored deltas");
    });
  });

  it("two processes backing up into one repository at once both succeed and share chunks", async () => {
    await withTempDir(async (dir) => {
      const repoDir = join(dir, "repo");
      assert.equal((await run(["repo", "init", repoDir, "--chunk-size", "64K"])).code, 0);
      const shared = seededBytes(8 * 1024 * 1024, 5);
      const a = Buffer.concat([shared, seededBytes(4 * 1024 * 1024, 6)]);
      const b = Buffer.concat([shared, seededBytes(4 * 1024 * 1024, 7)]);
      await writeFile(join(dir, "a.raw"), a);
      await writeFile(join(dir, "b.raw"), b);
      const results = await Promise.all([
        run(["backup", "image", join(dir, "a.raw"), "--repo", repoDir, "--machine", "a"]),
        run(["backup", "image", join(dir, "b.raw"), "--repo", repoDir, "--machine", "b"]),
      ]);
      for (const r of results) assert.equal(r.code, 0, r.stderr);
      const repo = await Repository.open(new LocalStorage(repoDir));
      const report = await verifyRepository(repo, undefined);
      assert.deepEqual([report.brokenPoints, report.chunkProblems], [[], []]);
      assert.equal(report.chunksChecked, 128 + 64 + 64, "the shared 8 MiB is stored once");
      for (const [machine, expect] of [
        ["a", a],
        ["b", b],
      ] as const) {
        const out = join(dir, `${machine}.out`);
        await restoreToFile(repo, (await repo.latestPoint(machine))!, "disk0", out);
        assert.ok((await readFile(out)).equals(expect));
      }
    });
  });
});

/** Sorted, non-overlapping union of byte extents. */
function mergeExtents(extents: { start: number; length: number }[]): { start: number; length: number }[] {
  const out: { start: number; length: number }[] = [];
  for (const e of [...extents].sort((a, b) => a.start - b.start)) {
    const last = out.at(-1);
    if (last && e.start <= last.start + last.length)
      last.length = Math.max(last.length, e.start + e.length - last.start);
    else out.push({ ...e });
  }
  return out;
}
