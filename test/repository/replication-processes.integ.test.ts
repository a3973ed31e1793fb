import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { LocalStorage } from "../../src/repository/local-storage.js";
import { Repository } from "../../src/repository/repository.js";
import { verifyRepository } from "../../src/repository/verify.js";
import { seededBytes, withTempDir } from "./helpers.js";
import { restored } from "./replication-helpers.js";

const CLI = resolve("dist/src/cli/main.js");

function run(
  args: string[],
  options: { killAfterMs?: number } = {},
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer =
      options.killAfterMs === undefined
        ? undefined
        : setTimeout(() => child.kill("SIGKILL"), options.killAfterMs);
    child.on("exit", (code, signal) => {
      if (timer) clearTimeout(timer);
      done({ code, signal, stdout, stderr });
    });
  });
}

async function chunkCount(repoDir: string): Promise<number> {
  let n = 0;
  for (const d of await readdir(join(repoDir, "chunks")).catch(() => [] as string[]))
    n += (await readdir(join(repoDir, "chunks", d))).length;
  return n;
}

describe("replication as separate processes", () => {
  it("a replication killed (SIGKILL) mid-way loses nothing on either side and resumes without resending", async () => {
    await withTempDir(async (dir) => {
      const [src, dst] = [join(dir, "src"), join(dir, "dst")];
      const image = join(dir, "disk.raw");
      const data = seededBytes(24 * 1024 * 1024, 21);
      await writeFile(image, data);
      assert.equal((await run(["repo", "init", src, "--chunk-size", "64K"])).code, 0);
      const backup = await run(["backup", "image", image, "--repo", src, "--machine", "m1"]);
      assert.equal(backup.code, 0, backup.stderr);
      assert.equal((await run(["repo", "init", dst, "--like", src])).code, 0);
      const total = await chunkCount(src);

      let killed = 0;
      let arrived = 0;
      // Kill later and later until a run dies with part of the chunks sent.
      for (let i = 0; i < 12 && !(arrived > 0 && arrived < total); i++) {
        const r = await run(["replicate", "--from", src, "--to", dst], { killAfterMs: 150 + i * 50 });
        if (r.signal === "SIGKILL") killed++;
        else assert.equal(r.code, 0, r.stderr);
        arrived = await chunkCount(dst);
        const target = await Repository.open(new LocalStorage(dst));
        const points = await target.listPoints();
        if (r.signal === "SIGKILL" && arrived < total)
          assert.deepEqual(points, [], "no point before all its chunks");
        const report = await verifyRepository(target, undefined);
        assert.deepEqual([report.brokenPoints, report.chunkProblems], [[], []]);
      }
      assert.ok(killed >= 1, "at least one run was killed mid-way");

      const before = await chunkCount(dst);
      assert.ok(before > 0 && before < total, `a run was cut with ${before} of ${total} chunks sent`);
      const last = await run(["replicate", "--from", src, "--to", dst, "--json"]);
      assert.equal(last.code, 0, last.stderr);
      const report = JSON.parse(last.stdout) as { chunksSent: number; chunksPresent: number };
      assert.equal(report.chunksSent, total - before, "what arrived before is not sent again");
      assert.equal(report.chunksPresent, before);
      assert.deepEqual(await readdir(join(dst, "locks")), [], "the dead runs' locks were broken");

      const source = await Repository.open(new LocalStorage(src));
      const target = await Repository.open(new LocalStorage(dst));
      const [ref] = await target.listPoints();
      assert.ok((await restored(target, ref!)).equals(data));
      assert.equal(
        (await verifyRepository(source, undefined)).chunkProblems.length,
        0,
        "the source is untouched",
      );
    });
  });
});
