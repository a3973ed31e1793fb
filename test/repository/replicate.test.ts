import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isSnapvisorError } from "../../src/domain/errors.js";
import { MemoryStorage } from "../../src/repository/memory-storage.js";
import { replicate } from "../../src/repository/replicate.js";
import { keys, Repository } from "../../src/repository/repository.js";
import { verifyRepository } from "../../src/repository/verify.js";
import { writePoint } from "../../src/repository/writer.js";
import { bufferSource, consistency } from "./helpers.js";
import { seededBytes } from "./helpers.js";
import { backup, CS, CutStorage, memoryRepo, restored } from "./replication-helpers.js";

const code = (c: string) => (err: unknown) => isSnapvisorError(err) && err.code === c;

function disk(seed: number, slots = 24): Buffer {
  const data = seededBytes(CS * slots, seed);
  data.fill(0, CS * 4, CS * 8); // four zero slots: never sent, never stored
  return data;
}

async function storedBytes(repo: Repository, prefix = "chunks/"): Promise<number> {
  let n = 0;
  for await (const o of repo.storage.list(prefix)) n += o.size;
  return n;
}

describe("replicate()", () => {
  it("copies a base then only the new chunks of an incremental; both restore byte for byte in the target", async () => {
    const src = await memoryRepo();
    const dst = await memoryRepo();
    const v1 = disk(1);
    const base = await backup(src, "vm-1", v1);
    const first = await replicate(src, dst);
    assert.equal(first.points.length, 1);
    assert.equal(first.chunksSent, 20, "24 slots - 4 zero slots");
    assert.equal(first.bytesSent, await storedBytes(src), "blobs cross as stored");

    const v2 = Buffer.from(v1);
    seededBytes(CS * 2, 9).copy(v2, CS * 10);
    const incr = await backup(src, "vm-1", v2, [{ start: CS * 10, length: CS * 2 }]);
    const second = await replicate(src, dst);
    assert.deepEqual(
      second.points.map((p) => [p.source.pointId, p.action]),
      [
        [base.pointId, "present"],
        [incr.pointId, "copied"],
      ],
    );
    assert.equal(second.chunksSent, 2, "only the incremental's two new chunks cross");
    const manifest = await src.readManifest(incr);
    assert.equal(second.bytesSent, manifest.stats.bytesStored);

    assert.ok((await restored(dst, base)).equals(v1));
    assert.ok((await restored(dst, incr)).equals(v2));
    const report = await verifyRepository(dst, undefined);
    assert.deepEqual([report.brokenPoints, report.chunkProblems], [[], []]);
    assert.equal((await replicate(src, dst)).chunksSent, 0, "a third run has nothing to send");
  });

  it("resumes a replication cut mid-way without resending what arrived, and shows no point until complete", async () => {
    const src = await memoryRepo();
    await backup(src, "vm-1", disk(2));
    const storage = new CutStorage(new MemoryStorage());
    const dst = await Repository.init(storage, { like: src.config });
    storage.okChunks = 7;
    await assert.rejects(replicate(src, dst, { concurrency: 1 }), /link cut/);
    assert.deepEqual(await dst.listPoints(), [], "no manifest without all its chunks");
    storage.okChunks = Infinity;
    const resumed = await replicate(src, dst);
    assert.equal(resumed.chunksSent, 13);
    assert.equal(resumed.chunksPresent, 7, "the seven that arrived are not sent again");
    assert.equal((await dst.listPoints()).length, 1);
  });

  it("refuses a target with another chunk size or chunk-id scheme, and the same repository", async () => {
    const src = await memoryRepo();
    await backup(src, "vm-1", disk(3));
    const other = await Repository.init(new MemoryStorage(), { chunkSize: CS * 2 });
    await assert.rejects(replicate(src, other), code("REPLICATION_INCOMPATIBLE"));
    const encrypted = await memoryRepo({ passphrase: "pw" });
    await assert.rejects(replicate(src, encrypted), code("REPLICATION_INCOMPATIBLE"));
    await assert.rejects(replicate(src, src), code("SAME_REPOSITORY"));
    assert.deepEqual(await other.listPoints(), []);
  });

  it("refuses a chunk that is corrupt in the source, leaving no point in the target", async () => {
    const src = await memoryRepo();
    const ref = await backup(src, "vm-1", disk(4));
    const manifest = await src.readManifest(ref);
    const index = await src.readIndex(manifest, "disk0");
    const victim = keys.chunk(index.id(0).toString("hex"));
    const blob = (await src.storage.get(victim))!;
    blob[blob.length - 1]! ^= 0xff;
    await src.storage.delete(victim);
    await src.storage.putIfAbsent(victim, blob);
    const dst = await memoryRepo({ like: src });
    await assert.rejects(replicate(src, dst), code("CHUNK_CORRUPT"));
    assert.deepEqual(await dst.listPoints(), []);
  });

  it("keeps machines of two sources apart: a clashing id is refused, and accepted under a prefix", async () => {
    const siteA = await memoryRepo();
    const siteB = await memoryRepo();
    const hub = await memoryRepo();
    const a = disk(5);
    const b = disk(6);
    const refA = await backup(siteA, "vm-1", a);
    const refB = await backup(siteB, "vm-1", b);
    await replicate(siteA, hub);
    await assert.rejects(replicate(siteB, hub), code("MACHINE_CONFLICT"));
    await replicate(siteB, hub, { prefix: "siteB." });
    assert.deepEqual((await hub.listPoints()).map((p) => p.machineId).sort(), ["siteB.vm-1", "vm-1"]);
    assert.ok((await restored(hub, { machineId: "vm-1", pointId: refA.pointId })).equals(a));
    assert.ok((await restored(hub, { machineId: "siteB.vm-1", pointId: refB.pointId })).equals(b));

    // A machine backed up directly into the hub is not mixed with a replicated one either.
    const local = await memoryRepo();
    await backup(local, "vm-1", disk(7));
    await assert.rejects(replicate(siteA, local), code("MACHINE_CONFLICT"));
  });

  it("replicates onward (multi-hop) and to several targets; the same points by two routes are one", async () => {
    const a = await memoryRepo();
    const b = await memoryRepo();
    const c = await memoryRepo();
    const v1 = disk(8);
    const ref = await backup(a, "vm-1", v1);
    await replicate(a, b); // one-to-many: a -> b and a -> c
    const hop = await replicate(b, c); // multi-hop: b -> c
    assert.equal(hop.points.length, 1);
    const direct = await replicate(a, c);
    assert.deepEqual(
      direct.points.map((p) => p.action),
      ["present"],
      "c knows vm-1 came from a, whichever route it took",
    );
    assert.equal(direct.chunksSent, 0);
    assert.ok((await restored(c, ref)).equals(v1));
  });

  it("moves encrypted blobs as they are between repositories sharing a key, and refuses another key", async () => {
    const src = await memoryRepo({ passphrase: "correct horse" });
    const ref = await backup(src, "vm-1", disk(9));
    const dst = await memoryRepo({ passphrase: "correct horse", like: src });
    const report = await replicate(src, dst);
    assert.equal(report.chunksSent, 20);
    for await (const o of src.storage.list("chunks/")) {
      assert.ok(
        (await dst.storage.get(o.key))!.equals((await src.storage.get(o.key))!),
        "ciphertext unchanged",
      );
    }
    assert.ok((await restored(dst, ref)).equals(disk(9)));

    const stranger = await memoryRepo({ passphrase: "correct horse" }); // same passphrase, other keys
    await assert.rejects(replicate(src, stranger), (err: unknown) => {
      assert.ok(isSnapvisorError(err, "KEY_MISMATCH"));
      assert.match(err.message, /another key/);
      assert.match(err.message, /--like/);
      return true;
    });
  });

  it("brings along the shared-disk point a replicated point references, under the same prefix", async () => {
    const src = await memoryRepo();
    const sharedData = disk(10, 8);
    const shared = await backup(src, "cluster-1.shared", sharedData);
    const vmData = disk(11, 8);
    const { ref: vm } = await writePoint(src, {
      machine: { id: "vm-1", name: "vm-1", hypervisor: "hyperv" },
      disks: [{ key: "disk0", capacity: vmData.length, source: bufferSource(vmData), changed: "all" }],
      references: [{ key: "shared0", machineId: "cluster-1.shared", pointId: shared.pointId }],
      consistency,
    });
    const dst = await memoryRepo({ like: src });
    await replicate(src, dst, { machines: ["vm-1"], prefix: "site." });
    assert.deepEqual((await dst.listPoints()).map((p) => p.machineId).sort(), [
      "site.cluster-1.shared",
      "site.vm-1",
    ]);
    const copy = await dst.readManifest({ machineId: "site.vm-1", pointId: vm.pointId });
    assert.deepEqual(copy.references, [
      { key: "shared0", machineId: "site.cluster-1.shared", pointId: shared.pointId },
    ]);
    assert.ok(
      (await restored(dst, { machineId: "site.cluster-1.shared", pointId: shared.pointId })).equals(
        sharedData,
      ),
    );
  });
});
