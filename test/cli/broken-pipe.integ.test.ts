import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { seededBytes, withTempDir } from "../repository/helpers.js";

const CLI = join(dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");

/** Runs the CLI with a stdout whose reader has gone away before anything is written. */
function withClosedStdout(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    // Only ends a CLI that hangs; nothing depends on how long a run takes.
    const guard = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(guard);
      resolve({ code, stderr });
    });
  });
}

describe("a stdout whose reader went away", () => {
  it("ends a listing quietly with 141, as SIGPIPE would, instead of an unhandled EPIPE", async () => {
    const { code, stderr } = await withClosedStdout(["--help"]);
    assert.equal(code, 141);
    assert.doesNotMatch(stderr, /Unhandled|EPIPE/);
  });

  it("fails a restore to stdout with a clear error instead of hanging or claiming success", async () => {
    await withTempDir(async (dir) => {
      const repo = join(dir, "repo");
      const image = join(dir, "disk.raw");
      await writeFile(image, seededBytes(4 * 1024 * 1024, 5));
      const run = (args: string[]) =>
        new Promise<string>((resolve, reject) => {
          const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "inherit"] });
          let out = "";
          child.stdout.on("data", (c: Buffer) => (out += c.toString()));
          child.on("exit", (c) =>
            c === 0 ? resolve(out) : reject(new Error(`${args.join(" ")}: exit ${c}`)),
          );
        });
      await run(["repo", "init", repo, "--chunk-size", "64K"]);
      await run(["backup", "image", image, "--repo", repo, "--machine", "m"]);
      const point = (
        JSON.parse((await run(["points", "list", "--repo", repo, "--json"])).trim()) as { point: string }
      ).point;
      const { code, stderr } = await withClosedStdout(["restore", point, "--repo", repo, "--out", "-"]);
      assert.equal(code, 1);
      assert.match(stderr, /output was closed before the whole disk was written/);
    });
  });
});
