import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";

/**
 * The light CLI paths load only what they use: each case runs the real CLI in a child process with
 * test/support/record-loads.ts, which lists every ES and CommonJS module loaded (docs/cli-startup.md).
 */
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const CLI = join(ROOT, "dist/src/cli/main.js");
const RECORDER = join(ROOT, "dist/test/support/record-loads.js");

/** Packages and folders that the light paths must never load (the lab, the hypervisors, the config). */
const HEAVY_PACKAGES = [
  "pino",
  "web-tree-sitter",
  "tree-sitter-powershell",
  "ssh2",
  "fast-xml-parser",
  "yaml",
  "node-powershell",
  "p-queue",
];
const HEAVY_DIRS = ["dist/simulators/", "dist/adapters/", "dist/src/controller/", "dist/src/cli/app/"];

/** What a module URL names: "pkg:NAME" for a package, else the path under the project root. */
function moduleName(url: string): string | undefined {
  if (!url.startsWith("file:")) return undefined;
  const path = fileURLToPath(url);
  const pkg = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path);
  if (pkg) return `pkg:${pkg[1]}`;
  return path.startsWith(ROOT) ? path.slice(ROOT.length) : path;
}

const exec = promisify(execFile);

/** The modules `node ...nodeArgs` loads. */
async function recordLoads(dir: string, nodeArgs: readonly string[]): Promise<Set<string>> {
  const log = join(dir, `loads-${Math.random().toString(36).slice(2)}.txt`);
  await writeFile(log, "");
  // The timeout only ends a CLI that hangs; nothing here depends on how long a run takes.
  await exec(process.execPath, ["--import", RECORDER, ...nodeArgs], {
    env: { ...process.env, SNAPVISOR_LOAD_LOG: log },
    timeout: 60_000,
  });
  const names = new Set<string>();
  for (const line of (await readFile(log, "utf8")).split("\n")) {
    const name = moduleName(line);
    if (name !== undefined) names.add(name);
  }
  return names;
}

async function loadedBy(dir: string, args: readonly string[]): Promise<Set<string>> {
  const names = await recordLoads(dir, [CLI, ...args]);
  assert.ok(names.has("dist/src/cli/main.js"), `the recorder saw the CLI start: ${[...names].join(", ")}`);
  return names;
}

function assertNoHeavy(names: ReadonlySet<string>, what: string): void {
  const heavy = [...names].filter(
    (n) => HEAVY_PACKAGES.some((p) => n === `pkg:${p}`) || HEAVY_DIRS.some((d) => n.startsWith(d)),
  );
  assert.deepEqual(heavy, [], `${what} loaded ${heavy.join(", ")}`);
}

/** Command modules other than the table and the ones named. */
function otherCommands(names: ReadonlySet<string>, allowed: readonly string[]): string[] {
  return [...names].filter(
    (n) =>
      n.startsWith("dist/src/cli/commands/") &&
      !["index", ...allowed].some((a) => n === `dist/src/cli/commands/${a}.js`),
  );
}

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "snapvisor-startup-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("CLI startup imports", () => {
  it("--help loads the command table and no package, repository, disk or command module", async () => {
    await withTempDir(async (dir) => {
      for (const args of [["--help"], ["backup", "image", "--help"], ["replication", "setup", "--help"]]) {
        const names = await loadedBy(dir, args);
        const extra = [...names].filter(
          (n) =>
            n.startsWith("pkg:") ||
            (!n.startsWith("dist/src/cli/") && !n.startsWith("dist/src/domain/")) ||
            otherCommands(names, []).includes(n),
        );
        assert.deepEqual(extra, [], `snapvisor ${args.join(" ")} loaded ${extra.join(", ")}`);
      }
    });
  });

  it("backup image, points list and restore load neither the lab, the adapters, the controller nor pino (nor zod, for a backup or restore)", async () => {
    await withTempDir(async (dir) => {
      const repo = join(dir, "repo");
      const image = join(dir, "disk.raw");
      await writeFile(image, Buffer.alloc(1024 * 1024, 7));
      await exec(process.execPath, [CLI, "repo", "init", repo]);

      const backup = await loadedBy(dir, ["backup", "image", image, "--repo", repo, "--machine", "m1"]);
      assertNoHeavy(backup, "backup image");
      // An incremental reads the config, the locks, the parent's manifest and the extents file:
      // records the repository wrote pass their plain checks, and zod is never loaded.
      const changed = join(dir, "changed.json");
      await writeFile(changed, JSON.stringify([{ start: 4096, length: 4096 }]));
      const incremental = await loadedBy(dir, [
        ...["backup", "image", image, "--repo", repo, "--machine", "m1", "--changed", changed],
      ]);
      assert.ok(!incremental.has("pkg:zod"), "backup image --changed loads zod");
      assertNoHeavy(incremental, "backup image --changed");
      assert.deepEqual(otherCommands(backup, ["backup-image", "repo-context"]), []);
      // A raw image needs none of the VHDX, VHD or VMDK readers.
      const readers = [...backup].filter((n) => /^dist\/src\/disk\/(vhdx\/|vhd\/open|vmdk\/open)/.test(n));
      assert.deepEqual(readers, [], `backup image of a raw file loaded ${readers.join(", ")}`);

      const list = await loadedBy(dir, ["points", "list", "--repo", repo]);
      assertNoHeavy(list, "points list");
      assert.deepEqual(otherCommands(list, ["points", "repo-context"]), []);

      const { stdout } = await exec(process.execPath, [CLI, "points", "list", "--repo", repo, "--json"]);
      // One line per point; the newest (the incremental) is restored.
      const point = (JSON.parse(stdout.trim().split("\n").at(-1)!) as { point: string }).point;
      const restore = await loadedBy(dir, ["restore", point, "--repo", repo, "--out", join(dir, "out.raw")]);
      assertNoHeavy(restore, "restore");
      assert.deepEqual(otherCommands(restore, ["restore", "repo-context"]), []);
      assert.ok(!restore.has("dist/src/disk/open-image.js"), "restore does not load the image readers");
      assert.ok(!restore.has("pkg:zod"), "restore loads zod");
    });
  });

  it("a one-chunk incremental starts no worker thread (nor loads node:worker_threads or node-zstd's libc probe)", async () => {
    await withTempDir(async (dir) => {
      const repo = join(dir, "repo");
      const image = join(dir, "disk.raw");
      await writeFile(image, Buffer.alloc(4 * 1024 * 1024, 7));
      await exec(process.execPath, [CLI, "repo", "init", repo]);
      await exec(process.execPath, [CLI, "backup", "image", image, "--repo", repo, "--machine", "m1"]);
      const changed = join(dir, "changed.json");
      await writeFile(changed, JSON.stringify([{ start: 65536, length: 65536 }]));
      // Node's own list of the built-in modules it loaded, written at exit.
      const list = join(dir, "builtins.txt");
      const recorder =
        `import { writeFileSync } from "node:fs";` +
        `process.report.getReport = () => { throw new Error("diagnostic report asked for"); };` +
        `process.on("exit", () => writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join("\\n")));`;
      await exec(process.execPath, [
        ...["--import", `data:text/javascript,${encodeURIComponent(recorder)}`, CLI],
        ...["backup", "image", image, "--repo", repo, "--machine", "m1", "--changed", changed],
      ]);
      const builtins = (await readFile(list, "utf8")).split("\n");
      assert.ok(builtins.includes("NativeModule fs"), "the list was written");
      assert.ok(!builtins.includes("NativeModule worker_threads"), "node:worker_threads was loaded");
    });
  });

  it("the CLI logger loads pino only when it writes its first line", async () => {
    await withTempDir(async (dir) => {
      const logger = pathToFileURL(join(ROOT, "dist/src/cli/logger.js")).href;
      const script = (lines: string) =>
        `const { createLogger } = await import(${JSON.stringify(logger)});\n` +
        `const log = createLogger({ destination: process.stdout, level: "warn" }).child({ job: "j" });\n` +
        `log.debug({}, "below"); log.info({}, "below");\n${lines}`;
      const quiet = await recordLoads(dir, ["--input-type=module", "-e", script("")]);
      assert.ok(quiet.has("dist/src/cli/logger.js"));
      assert.ok(!quiet.has("pkg:pino"), "pino is not loaded while every line is below the level");
      const loud = await recordLoads(dir, ["--input-type=module", "-e", script(`log.warn({}, "written");`)]);
      assert.ok(loud.has("pkg:pino"), `pino is loaded to write a warning: ${[...loud].join(", ")}`);
    });
  });
});
