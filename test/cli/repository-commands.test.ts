import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { runCli } from "../../src/cli/run.js";
import { seededBytes, withTempDir } from "../repository/helpers.js";
import { captureIo } from "./capture-io.js";

async function cli(args: string[], env: Record<string, string> = {}) {
  const io = captureIo(env);
  const code = await runCli(args, io);
  return { code, out: io.out(), err: io.err() };
}

describe("repository commands", () => {
  it("init, backup image (full then --changed), points, restore and verify work together", async () => {
    await withTempDir(async (dir) => {
      const repo = join(dir, "repo");
      const image = join(dir, "disk.img");
      const data = seededBytes(3 * 1024 * 1024 + 4096, 1);
      data.fill(0, 1024 * 1024, 2 * 1024 * 1024);
      await writeFile(image, data);
      assert.equal((await cli(["repo", "init", repo, "--chunk-size", "1M"])).code, 0);
      const full = await cli([
        "backup",
        "image",
        image,
        "--repo",
        repo,
        "--machine",
        "vm-7",
        "--disk",
        "2000",
        "--json",
      ]);
      assert.equal(full.code, 0, full.err);
      data.write("CHANGED", 2 * 1024 * 1024 + 10);
      await writeFile(image, data);
      await writeFile(join(dir, "ext.json"), JSON.stringify([{ start: 2 * 1024 * 1024 + 10, length: 7 }]));
      const incr = await cli([
        "backup",
        "image",
        image,
        "--repo",
        repo,
        "--machine",
        "vm-7",
        "--disk",
        "2000",
        "--changed",
        join(dir, "ext.json"),
        "--json",
      ]);
      assert.equal(incr.code, 0, incr.err);
      const point = JSON.parse(incr.out) as {
        pointId: string;
        manifest: { disks: { stats: { bytesRead: number } }[] };
      };
      assert.equal(
        point.manifest.disks[0]!.stats.bytesRead,
        64 * 1024,
        "only the touched 64 KiB sub-block was read",
      );

      const list = await cli(["points", "list", "--repo", repo]);
      assert.match(list.out, /base/);
      assert.match(list.out, /incr\+1/);
      const show = await cli(["points", "show", point.pointId, "--repo", repo]);
      assert.match(show.out, /incremental, parent/);

      const out = join(dir, "restored.img");
      assert.equal(
        (await cli(["restore", point.pointId, "--repo", repo, "--disk", "2000", "--out", out])).code,
        0,
      );
      assert.ok((await readFile(out)).equals(data));
      const blocks = Number(execFileSync("stat", ["-c", "%b", out]).toString()) * 512;
      assert.ok(blocks < data.length - 512 * 1024, `the zero MiB is a hole (allocated ${blocks})`);
      const verify = await cli(["verify", "--repo", repo]);
      assert.equal(verify.code, 0);
      assert.match(verify.out, /No problems found/);
    });
  });

  it("verify exits 1 and names the chunk and point when a chunk is damaged", async () => {
    await withTempDir(async (dir) => {
      const repo = join(dir, "repo");
      await writeFile(join(dir, "d.img"), seededBytes(256 * 1024, 2));
      await cli(["repo", "init", repo, "--chunk-size", "64K"]);
      await cli(["backup", "image", join(dir, "d.img"), "--repo", repo, "--machine", "m"]);
      const chunkDirs = await readdir(join(repo, "chunks"));
      const victimDir = join(repo, "chunks", chunkDirs[0]!);
      const victim = (await readdir(victimDir))[0]!;
      const bytes = await readFile(join(victimDir, victim));
      bytes[bytes.length - 1]! ^= 0xff;
      await writeFile(join(victimDir, victim), bytes);
      const verify = await cli(["verify", "--repo", repo]);
      assert.equal(verify.code, 1);
      assert.match(verify.out, new RegExp(`chunk ${victim} corrupt`));
      assert.match(verify.out, /breaks m\/\d{8}T/);
    });
  });

  const usage: [string, (dir: string) => string[], RegExp, number][] = [
    [
      "a machine id that tries path traversal",
      (d) => ["backup", "image", join(d, "d.img"), "--repo", join(d, "repo"), "--machine", "../../etc"],
      /INVALID_ID/,
      2,
    ],
    [
      "a disk key with a slash",
      (d) => [
        "backup",
        "image",
        join(d, "d.img"),
        "--repo",
        join(d, "repo"),
        "--machine",
        "m",
        "--disk",
        "a/b",
      ],
      /INVALID_ID/,
      2,
    ],
    [
      "a malformed extents file",
      (d) => [
        "backup",
        "image",
        join(d, "d.img"),
        "--repo",
        join(d, "repo"),
        "--machine",
        "m",
        "--changed",
        join(d, "bad.json"),
      ],
      /EXTENTS_INVALID/,
      2,
    ],
    [
      "an extents file past the disk's end",
      (d) => [
        "backup",
        "image",
        join(d, "d.img"),
        "--repo",
        join(d, "repo"),
        "--machine",
        "m",
        "--changed",
        join(d, "past.json"),
      ],
      /past the disk's end.*EXTENTS_INVALID/,
      2,
    ],
    [
      "a directory that is not a repository",
      (d) => ["points", "list", "--repo", d],
      /not a snapvisor repository.*NOT_A_REPOSITORY/,
      1,
    ],
    [
      "a point that does not exist",
      (d) => ["restore", "20990101T000000000Z-00000000", "--repo", join(d, "repo"), "--out", join(d, "x")],
      /POINT_NOT_FOUND/,
      1,
    ],
    ["an unknown option", (d) => ["verify", "--repo", join(d, "repo"), "--frobnicate"], /USAGE/, 2],
    ["prune without any keep option", (d) => ["prune", "--repo", join(d, "repo")], /at least one --keep/, 2],
  ];
  for (const [what, args, message, exit] of usage) {
    it(`refuses ${what} with a coded error and exit ${exit}, writing nothing`, async () => {
      await withTempDir(async (dir) => {
        await writeFile(join(dir, "d.img"), seededBytes(64 * 1024, 3));
        await writeFile(join(dir, "bad.json"), `[{"start": 0, "length": }]`);
        await writeFile(join(dir, "past.json"), `[{"start": 65000, "length": 1000}]`);
        await cli(["repo", "init", join(dir, "repo"), "--chunk-size", "64K"]);
        const r = await cli(args(dir));
        assert.equal(r.code, exit, r.err);
        assert.match(r.err, message);
        assert.deepEqual(await readdir(join(dir, "repo", "points")).catch(() => []), []);
        assert.deepEqual(await readdir(join(dir, "repo", "locks")).catch(() => []), []);
      });
    });
  }

  it("an encrypted repository needs its passphrase and refuses a wrong one clearly", async () => {
    await withTempDir(async (dir) => {
      const repo = join(dir, "repo");
      await writeFile(join(dir, "d.img"), Buffer.from("secret payload ".repeat(10000)));
      assert.equal(
        (await cli(["repo", "init", repo, "--encrypt"], { SNAPVISOR_PASSPHRASE: "pw-1" })).code,
        0,
      );
      assert.equal(
        (
          await cli(["backup", "image", join(dir, "d.img"), "--repo", repo, "--machine", "m"], {
            SNAPVISOR_PASSPHRASE: "pw-1",
          })
        ).code,
        0,
      );
      const wrong = await cli(["points", "list", "--repo", repo], { SNAPVISOR_PASSPHRASE: "pw-2" });
      assert.equal(wrong.code, 1);
      assert.match(wrong.err, /Wrong passphrase.*WRONG_PASSPHRASE/);
      const none = await cli(["points", "list", "--repo", repo]);
      assert.match(none.err, /PASSPHRASE_REQUIRED/);
      const grep = execFileSync("grep", ["-rl", "secret payload", repo, "--binary-files=text"], {
        encoding: "utf8",
      }).trim();
      assert.equal(grep, "", "no plaintext anywhere in the repository");
    }).catch((err: unknown) => {
      // grep exits 1 when it finds nothing: that is the passing case.
      if ((err as { status?: number }).status !== 1) throw err;
    });
  });

  it("a format version from the future is refused without touching the repository", async () => {
    await withTempDir(async (dir) => {
      const repo = join(dir, "repo");
      await cli(["repo", "init", repo]);
      const config = JSON.parse(await readFile(join(repo, "config.json"), "utf8")) as Record<string, unknown>;
      await writeFile(join(repo, "config.json"), JSON.stringify({ ...config, version: 99 }));
      const r = await cli(["points", "list", "--repo", repo]);
      assert.match(r.err, /format version 99.*FORMAT_TOO_NEW/);
      await writeFile(join(repo, "config.json"), '{"format":"snapvisor-repo');
      assert.match((await cli(["points", "list", "--repo", repo])).err, /CONFIG_CORRUPT/);
    });
  });

  it("a full disk (ENOSPC) fails the backup with NO_SPACE and keeps the earlier points intact", async (t) => {
    await withTempDir(async (dir) => {
      const mnt = join(dir, "small");
      await mkdir(mnt);
      try {
        execFileSync("mount", ["-t", "tmpfs", "-o", "size=3m", "tmpfs", mnt], { stdio: "ignore" });
      } catch {
        t.skip("cannot mount a small tmpfs here (needs root)");
        return;
      }
      try {
        const repo = join(mnt, "repo");
        await writeFile(join(dir, "small.img"), seededBytes(512 * 1024, 1));
        await writeFile(join(dir, "big.img"), seededBytes(8 * 1024 * 1024, 2));
        await cli(["repo", "init", repo, "--chunk-size", "64K"]);
        assert.equal(
          (await cli(["backup", "image", join(dir, "small.img"), "--repo", repo, "--machine", "m"])).code,
          0,
        );
        const full = await cli(["backup", "image", join(dir, "big.img"), "--repo", repo, "--machine", "m"]);
        assert.equal(full.code, 1);
        assert.match(full.err, /No space left.*NO_SPACE/);
        const list = await cli(["points", "list", "--repo", repo, "--json"]);
        assert.equal(list.out.trim().split("\n").length, 1, "only the earlier point is visible");
        assert.equal((await cli(["gc", "--repo", repo, "--grace-minutes", "0"])).code, 0);
        const verify = await cli(["verify", "--repo", repo]);
        assert.equal(verify.code, 0, verify.out);
        assert.equal(
          (await cli(["backup", "image", join(dir, "small.img"), "--repo", repo, "--machine", "m"])).code,
          0,
        );
      } finally {
        execFileSync("umount", [mnt]);
        await rm(mnt, { recursive: true, force: true });
      }
    });
  });
});
