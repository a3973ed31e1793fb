import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";

const WORKERS = pathToFileURL(
  fileURLToPath(new URL("../../src/repository/chunk-workers.js", import.meta.url)),
).href;
const exec = promisify(execFile);

/**
 * Runs `script` (an ES module, from a file: workers inherit the process's flags, and --input-type
 * is refused in a worker) in its own process: it must end by itself; a hang is killed.
 */
async function exitsByItself(script: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "snapvisor-workers-"));
  try {
    const file = join(dir, "script.mjs");
    await writeFile(file, script);
    const { stdout } = await exec(process.execPath, [file], { timeout: 60_000 });
    return stdout;
  } catch (err) {
    const e = err as { killed?: boolean; stderr?: string };
    assert.fail(e.killed ? "the process did not end once its work was done" : `failed: ${e.stderr}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("chunk workers and process exit", () => {
  it("idle workers do not keep the process alive, also those never given a chunk", async () => {
    const out = await exitsByItself(
      `const { ChunkWorkers } = await import(${JSON.stringify(WORKERS)});\n` +
        `const workers = new ChunkWorkers(3, { inlineBytes: 0 });\n` +
        `const sealed = await workers.seal(workers.scheme(null, 1), Buffer.alloc(64 * 1024, 1));\n` +
        `console.log(sealed.id.toString("hex").length);\n`,
    );
    assert.equal(out.trim(), "64");
  });

  it("workers started but never given a chunk do not keep it alive either", async () => {
    const out = await exitsByItself(
      `const { ChunkWorkers } = await import(${JSON.stringify(WORKERS)});\n` +
        `const workers = new ChunkWorkers(2);\n` +
        `await workers.ready();\n` +
        `console.log(workers.started);\n`,
    );
    assert.equal(out.trim(), "true");
  });
});

describe("chunk workers started from `node --input-type=module -e`", () => {
  it("work: the flag meant for the main script is not passed on to them", async () => {
    const url = new URL("../../src/repository/chunk-workers.js", import.meta.url).href;
    const script = `const { chunkWorkers } = await import(${JSON.stringify(url)});
      const w = chunkWorkers(); await w.ready();
      const s = await w.seal(w.scheme(null, 1), Buffer.alloc(8192, 7));
      console.log(s.id.toString("hex"));`;
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
      timeout: 60_000,
    });
    const out = stdout.trim();
    assert.equal(out, createHash("sha256").update(Buffer.alloc(8192, 7)).digest("hex"));
  });
});
