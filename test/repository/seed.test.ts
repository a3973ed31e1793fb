import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isSnapvisorError } from "../../src/domain/errors.js";
import { checkCompleteness } from "../../src/repository/orphans.js";
import { replicate } from "../../src/repository/replicate.js";
import { consumeSeed } from "../../src/repository/seed-consume.js";
import { exportSeed } from "../../src/repository/seed.js";
import { seededBytes, withTempDir } from "./helpers.js";
import { backup, CS, memoryRepo, restored } from "./replication-helpers.js";

const code = (c: string) => (err: unknown) => isSnapvisorError(err) && err.code === c;

/** A chain of three points: a base and two incrementals, each changing two slots. */
async function chain(seed: number) {
  const src = await memoryRepo();
  const versions: Buffer[] = [seededBytes(CS * 16, seed)];
  const refs = [await backup(src, "vm-1", versions[0]!)];
  for (let i = 1; i <= 2; i++) {
    const v = Buffer.from(versions[i - 1]!);
    seededBytes(CS * 2, seed + i).copy(v, CS * (i * 3));
    versions.push(v);
    refs.push(await backup(src, "vm-1", v, [{ start: CS * i * 3, length: CS * 2 }]));
  }
  return { src, versions, refs };
}

describe("orphans and seed drives", () => {
  it("an incremental replicated without its base is orphaned; the seed drive completes the chain", async () => {
    const { src, versions, refs } = await chain(20);
    const dst = await memoryRepo({ like: src });
    // Replication set up "with seed drive" after the base: the base stays behind, and so do its chunks.
    const report = await replicate(src, dst, { upTo: { "vm-1": refs[0]!.pointId }, withholdBefore: true });
    assert.equal(report.pointsHeldBack, 1);
    assert.equal(report.chunksSent, 4, "only the two incrementals' new chunks cross");
    assert.deepEqual(
      report.points.map((p) => p.missing),
      [14, 12],
    );
    const before = await checkCompleteness(dst, await dst.listPoints());
    assert.deepEqual(
      before.map((p) => p.missing),
      [14, 12],
    );
    await assert.rejects(restored(dst, refs[2]!), (err: unknown) => {
      assert.ok(isSnapvisorError(err, "POINT_ORPHANED"));
      assert.match(err.message, /12 of its chunks/);
      assert.match(err.message, /seed/);
      return true;
    });

    await withTempDir(async (dir) => {
      const seed = await exportSeed(src, join(dir, "seed"), { machines: ["vm-1"] });
      assert.equal(seed.points, 3);
      assert.deepEqual(seed.volumes, [join(dir, "seed")]);
      const consumed = await consumeSeed(dst, seed.volumes);
      assert.equal(consumed.pointsImported, 1, "the base; the incrementals were there");
      assert.equal(consumed.pointsPresent, 2);
      assert.equal(consumed.chunksImported, 16, "the base's own chunks");
      assert.deepEqual(
        consumed.orphansRepaired.map((r) => r.pointId),
        [refs[1]!.pointId, refs[2]!.pointId],
      );
    });
    for (let i = 0; i < 3; i++) assert.ok((await restored(dst, refs[i]!)).equals(versions[i]!), `point ${i}`);
  });

  it("spans volumes under --max-size and refuses a missing volume, a truncated file and an unfinished volume", async () => {
    const { src, versions, refs } = await chain(30);
    await withTempDir(async (dir) => {
      const seed = await exportSeed(src, join(dir, "seed"), { maxSize: CS * 5 });
      assert.ok(seed.volumes.length >= 4, `volumes: ${seed.volumes.length}`);
      const dst = await memoryRepo({ like: src });

      await assert.rejects(consumeSeed(dst, seed.volumes.slice(1)), (err: unknown) => {
        assert.ok(isSnapvisorError(err, "SEED_INCOMPLETE"));
        assert.match(err.message, /volume 1 of/);
        return true;
      });
      await assert.rejects(consumeSeed(dst, seed.volumes.slice(0, -1)), code("SEED_INCOMPLETE"));

      const second = seed.volumes[1]!;
      const dirs = await readdir(join(second, "chunks"));
      const victim = join(second, "chunks", dirs[0]!, (await readdir(join(second, "chunks", dirs[0]!)))[0]!);
      await truncate(victim, 100);
      await assert.rejects(consumeSeed(dst, seed.volumes), (err: unknown) => {
        assert.ok(isSnapvisorError(err, "SEED_CORRUPT"));
        assert.match(err.message, /Seed volume 2 .*has 100 bytes/);
        return true;
      });
      assert.deepEqual(await dst.listPoints(), [], "nothing half-imported");

      await rm(join(seed.volumes.at(-1)!, "seed.json"));
      await assert.rejects(consumeSeed(dst, seed.volumes), code("SEED_INCOMPLETE"));

      // A fresh export of the same points consumes cleanly after the failures.
      const again = await exportSeed(src, join(dir, "again"), { maxSize: CS * 5 });
      const ok = await consumeSeed(dst, again.volumes);
      assert.equal(ok.pointsImported, 3);
      assert.ok((await restored(dst, refs[2]!)).equals(versions[2]!));
    });
  });

  it("refuses a seed from a repository with another key, and a hostile volume manifest", async () => {
    const src = await memoryRepo({ passphrase: "pw" });
    await backup(src, "vm-1", seededBytes(CS * 4, 40));
    const stranger = await memoryRepo({ passphrase: "pw" });
    await withTempDir(async (dir) => {
      const seed = await exportSeed(src, join(dir, "seed"));
      await assert.rejects(consumeSeed(stranger, seed.volumes), code("KEY_MISMATCH"));
      const manifestPath = join(seed.volumes[0]!, "seed.json");
      const volume = JSON.parse(await readFile(manifestPath, "utf8")) as { points: object[] };
      volume.points = [{ machineId: "vm-1", pointId: "../../escape" }];
      await writeFile(manifestPath, JSON.stringify(volume));
      const sibling = await memoryRepo({ passphrase: "pw", like: src });
      await assert.rejects(consumeSeed(sibling, seed.volumes), code("INVALID_ID"));
      await writeFile(
        join(seed.volumes[0]!, "seed.json"),
        JSON.stringify({ format: "snapvisor-seed", version: 1, files: [{ key: "../../etc/passwd" }] }),
      );
      await assert.rejects(consumeSeed(stranger, seed.volumes), code("SEED_CORRUPT"));
      await assert.rejects(exportSeed(src, join(dir, "seed")), code("SEED_EXISTS"));
    });
  });
});
