import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { runCli } from "../../src/cli/run.js";
import { seededBytes, withTempDir } from "../repository/helpers.js";
import { captureIo } from "./capture-io.js";

async function cli(args: string[], env: Record<string, string> = {}) {
  const io = captureIo(env);
  const code = await runCli(args, io);
  return { code, out: io.out(), err: io.err() };
}

const CHUNK = 64 * 1024;

async function backupImage(image: string, repo: string, extra: string[] = []) {
  const r = await cli([
    "backup",
    "image",
    image,
    "--repo",
    repo,
    "--machine",
    "vm-7",
    "--disk",
    "disk0",
    "--json",
    ...extra,
  ]);
  assert.equal(r.code, 0, r.err);
  return (JSON.parse(r.out) as { pointId: string }).pointId;
}

describe("replication commands", () => {
  it("replicate sends only what the target lacks and reports the bytes; export makes a disk qemu-img accepts", async () => {
    await withTempDir(async (dir) => {
      const [src, dst] = [join(dir, "src"), join(dir, "dst")];
      const image = join(dir, "disk.img");
      const data = seededBytes(2 * 1024 * 1024, 3);
      data.fill(0, 512 * 1024, 1024 * 1024);
      await writeFile(image, data);
      assert.equal((await cli(["repo", "init", src, "--chunk-size", "64K"])).code, 0);
      const point = await backupImage(image, src);
      assert.equal((await cli(["repo", "init", dst, "--like", src])).code, 0);
      const first = await cli(["replicate", "--from", src, "--to", dst]);
      assert.equal(first.code, 0, first.err);
      assert.match(first.out, /Replicated 1 point\(s\): 24 chunks sent \(/);
      const again = await cli(["replicate", "--from", src, "--to", dst, "--json"]);
      assert.equal((JSON.parse(again.out) as { bytesSent: number }).bytesSent, 0);
      const list = await cli(["points", "list", "--repo", dst]);
      assert.match(list.out, new RegExp(`${point}.*ok`));

      const vmdk = join(dir, "disk.vmdk");
      const exported = await cli(["export", point, "--repo", dst, "--format", "vmdk", "--out", vmdk]);
      assert.equal(exported.code, 0, exported.err);
      execFileSync("qemu-img", ["check", vmdk], { stdio: "pipe" });
      execFileSync("qemu-img", ["convert", "-O", "raw", vmdk, join(dir, "back.raw")]);
      assert.ok((await readFile(join(dir, "back.raw"))).equals(data));
      const bad = await cli(["export", point, "--repo", dst, "--format", "qcow2", "--out", join(dir, "x")]);
      assert.equal(bad.code, 2);
      assert.match(bad.err, /--format must be one of raw, vmdk/);
    });
  });

  it("refuses a target that is not a repository, and an encrypted target under another key", async () => {
    await withTempDir(async (dir) => {
      const env = { SNAPVISOR_PASSPHRASE: "pw" };
      const [src, dst, other] = [join(dir, "src"), join(dir, "dst"), join(dir, "other")];
      const image = join(dir, "disk.img");
      await writeFile(image, seededBytes(CHUNK * 4, 5));
      assert.equal((await cli(["repo", "init", src, "--chunk-size", "64K", "--encrypt"], env)).code, 0);
      await (async () => {
        const r = await cli(["backup", "image", image, "--repo", src, "--machine", "vm-7"], env);
        assert.equal(r.code, 0, r.err);
      })();
      const notRepo = await cli(["replicate", "--from", src, "--to", join(dir, "nowhere")], env);
      assert.equal(notRepo.code, 1);
      assert.match(notRepo.err, /is not a snapvisor repository.*\[NOT_A_REPOSITORY\]/);

      assert.equal((await cli(["repo", "init", other, "--chunk-size", "64K", "--encrypt"], env)).code, 0);
      const mismatch = await cli(["replicate", "--from", src, "--to", other], env);
      assert.equal(mismatch.code, 1);
      assert.match(mismatch.err, /another key.*\[KEY_MISMATCH\]/);

      assert.equal((await cli(["repo", "init", dst, "--like", src], env)).code, 0);
      const ok = await cli(["replicate", "--from", src, "--to", dst], env);
      assert.equal(ok.code, 0, ok.err);
      const wrong = await cli(["replicate", "--from", src, "--to", dst], {
        ...env,
        SNAPVISOR_TARGET_PASSPHRASE: "no",
      });
      assert.match(wrong.err, /\[WRONG_PASSPHRASE\]/);
    });
  });

  it("with a seed drive: orphans are listed and refused until the seed's volumes are consumed", async () => {
    await withTempDir(async (dir) => {
      const [src, dst] = [join(dir, "src"), join(dir, "dst")];
      const image = join(dir, "disk.img");
      const data = seededBytes(CHUNK * 16, 7);
      await writeFile(image, data);
      assert.equal((await cli(["repo", "init", src, "--chunk-size", "64K"])).code, 0);
      await backupImage(image, src);
      assert.equal((await cli(["repo", "init", dst, "--like", src])).code, 0);
      const setup = await cli(["replication", "setup", "--from", src, "--to", dst, "--seed-drive"]);
      assert.equal(setup.code, 0, setup.err);
      data.write("CHANGED", CHUNK * 3);
      await writeFile(image, data);
      await writeFile(join(dir, "ext.json"), JSON.stringify([{ start: CHUNK * 3, length: 7 }]));
      const incr = await backupImage(image, src, ["--changed", join(dir, "ext.json")]);

      const run = await cli(["replication", "run", "--repo", src]);
      assert.equal(run.code, 3, "done with a warning: the point arrived orphaned");
      assert.match(run.out, /orphaned \(15 chunks missing\)/);
      assert.match(run.err, /seed consume/);
      assert.match((await cli(["points", "list", "--repo", dst])).out, /orphaned \(15 missing\)/);
      const refused = await cli(["restore", incr, "--repo", dst, "--out", join(dir, "r.raw")]);
      assert.equal(refused.code, 1);
      assert.match(refused.err, /orphaned.*seed consume.*\[POINT_ORPHANED\]/);
      const status = await cli(["replication", "status", "--repo", dst]);
      assert.match(status.out, /pending\s+1/);

      const seed = await cli([
        "seed",
        "export",
        "--repo",
        src,
        "--out",
        join(dir, "seed"),
        "--max-size",
        "512K",
      ]);
      assert.equal(seed.code, 0, seed.err);
      const volumes = seed.out
        .split("\n")
        .filter((l) => l.startsWith("  "))
        .map((l) => l.trim());
      assert.ok(volumes.length >= 3, seed.out);
      const consumed = await cli(["seed", "consume", "--repo", dst, "--from", ...volumes]);
      assert.equal(consumed.code, 0, consumed.err);
      assert.match(consumed.out, /1 orphaned point\(s\) now complete/);
      assert.doesNotMatch((await cli(["points", "list", "--repo", dst])).out, /orphaned/);
      const restored = await cli(["restore", incr, "--repo", dst, "--out", join(dir, "r.raw")]);
      assert.equal(restored.code, 0, restored.err);
      assert.ok((await readFile(join(dir, "r.raw"))).equals(data));

      const pause = await cli(["replication", "pause", "--repo", src, "--target", "/"]);
      assert.equal(pause.code, 1);
      assert.match(pause.err, /REPLICATION_NOT_FOUND/);
      const srcStatus = await cli(["replication", "status", "--repo", src, "--json"]);
      const target = (JSON.parse(srcStatus.out) as { outbound: { target: { id: string } }[] }).outbound[0]!
        .target.id;
      assert.match(
        (await cli(["replication", "pause", "--repo", src, "--target", target.slice(0, 8)])).out,
        /paused/,
      );
      assert.match(
        (await cli(["replication", "status", "--repo", src])).out,
        /paused\s+after-backup\s+pending/,
      );
      assert.doesNotMatch((await cli(["replication", "run", "--repo", src])).out, /Replicating/, "paused");
      assert.equal((await cli(["replication", "resume", "--repo", src, "--target", target])).code, 0);
      // The source learns from the target that the seed was consumed.
      assert.equal((await cli(["replication", "run", "--repo", src])).code, 0);
      assert.match(
        (await cli(["replication", "status", "--repo", src])).out,
        /active\s+after-backup\s+consumed/,
      );
    });
  });

  it("replication run goes on past a target that moved, reporting it, and replicates to the others", async () => {
    await withTempDir(async (dir) => {
      const [src, near, far] = [join(dir, "src"), join(dir, "near"), join(dir, "far")];
      const image = join(dir, "disk.img");
      await writeFile(image, seededBytes(CHUNK * 4, 9));
      assert.equal((await cli(["repo", "init", src, "--chunk-size", "64K"])).code, 0);
      const point = await backupImage(image, src);
      for (const t of [near, far]) {
        assert.equal((await cli(["repo", "init", t, "--like", src])).code, 0);
        assert.equal((await cli(["replication", "setup", "--from", src, "--to", t])).code, 0);
      }
      // The far target is re-created: another repository now sits at its recorded location.
      await rm(far, { recursive: true });
      assert.equal((await cli(["repo", "init", far, "--like", src])).code, 0);
      const run = await cli(["replication", "run", "--repo", src]);
      assert.equal(run.code, 1);
      assert.match(run.err, /not the replication's target.*\[REPLICATION_NOT_FOUND\]/);
      assert.match((await cli(["points", "list", "--repo", near])).out, new RegExp(point));
      assert.doesNotMatch((await cli(["points", "list", "--repo", far])).out, new RegExp(point));
    });
  });
});
