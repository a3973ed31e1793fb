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
  options: { killWhen?: () => Promise<boolean> } = {},
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let exited = false;
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    // Polls a condition on the repositories (not the clock) and kills the child once it holds.
    const poll = async (): Promise<void> => {
      while (!exited && options.killWhen) {
        if (await options.killWhen()) {
          child.kill("SIGKILL");
          return;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    void poll();
    child.on("exit", (code, signal) => {
      exited = true;
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
      // Large enough that a loaded machine's polling still catches the child mid-way.
      const data = seededBytes(48 * 1024 * 1024, 21);
      await writeFile(image, data);
      assert.equal((await run(["repo", "init", src, "--chunk-size", "64K"])).code, 0);
      const backup = await run(["backup", "image", image, "--repo", src, "--machine", "m1"]);
      assert.equal(backup.code, 0, backup.stderr);
      assert.equal((await run(["repo", "init", dst, "--like", src])).code, 0);
      const total = await chunkCount(src);

      // Killed once a quarter of the chunks have arrived, then again at half.
      for (const fraction of [1 / 4, 1 / 2]) {
        const r = await run(["replicate", "--from", src, "--to", dst], {
          killWhen: async () => (await chunkCount(dst)) >= total * fraction,
        });
        assert.equal(r.signal, "SIGKILL", `killed mid-way (exit ${r.code}: ${r.stderr})`);
        const target = await Repository.open(new LocalStorage(dst));
        assert.deepEqual(await target.listPoints(), [], "no point before all its chunks");
        const report = await verifyRepository(target, undefined);
        assert.deepEqual([report.brokenPoints, report.chunkProblems], [[], []]);
      }

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
