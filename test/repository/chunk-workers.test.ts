import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { BlobCodec, BlobKind, CHUNK_BLOB_OVERHEAD } from "../../src/repository/blob.js";
import { ChunkOpenError, ChunkWorkers } from "../../src/repository/chunk-workers.js";
import { laneBuffers, roundUp } from "../../src/repository/slab.js";
import { seededBytes } from "./helpers.js";

const KiB = 1024;
const keys = { dataKey: Buffer.alloc(32, 1), idKey: Buffer.alloc(32, 2) };
const text = (n: number) =>
  Buffer.from("2026-11-22 chunk index snapshot quiesce line\n".repeat(n / 45 + 1)).subarray(0, n);

/** A fresh buffer that owns its memory, as the writer's lanes hold them. */
function owned(data: Buffer): Buffer {
  const b = Buffer.allocUnsafeSlow(data.length);
  data.copy(b);
  return b;
}

// Every case runs twice: on the worker threads, and on the main thread (a small job's chunks).
for (const where of ["worker threads", "the main thread"] as const)
  describe(`chunk work on ${where}`, () => {
    const workers = new ChunkWorkers(2, { inlineBytes: where === "worker threads" ? 0 : Infinity });
    const plain = workers.scheme(null, 1);
    const sealedUnder = workers.scheme(keys, 1);

    it("name a chunk by its SHA-256 (HMAC-SHA256 under the id key when encrypted) and seal it openably", async () => {
      const data = seededBytes(256 * KiB, 7);
      const a = await workers.seal(plain, data);
      assert.deepEqual(a.id, createHash("sha256").update(data).digest());
      const b = await workers.seal(sealedUnder, data);
      assert.deepEqual(b.id, createHmac("sha256", keys.idKey).update(data).digest());
      assert.deepEqual(
        new BlobCodec(null).openSync(BlobKind.chunk, a.id.toString("hex"), Buffer.concat(a.parts)),
        data,
      );
      assert.deepEqual(
        new BlobCodec(keys).openSync(BlobKind.chunk, b.id.toString("hex"), Buffer.concat(b.parts)),
        data,
      );
    });

    it("report an all-zero chunk as no id and no blob", async () => {
      const sealed = await workers.seal(plain, Buffer.alloc(1024 * KiB));
      assert.equal(sealed.id, null);
      assert.deepEqual(sealed.parts, []);
    });

    for (const kind of ["shared", "transferred"] as const) {
      const lane = (size: number) =>
        kind === "shared" ? laneBuffers(1, size)[0]! : Buffer.allocUnsafeSlow(roundUp(size, 4096));
      it(`seal in a ${kind} lane: the blob comes back as one range at the lane's start`, async () => {
        for (const [scheme, data] of [
          [plain, text(512 * KiB)],
          [plain, seededBytes(512 * KiB, 12)],
          [sealedUnder, seededBytes(512 * KiB, 13)],
        ] as const) {
          const mine = lane(data.length + CHUNK_BLOB_OVERHEAD);
          data.copy(mine);
          const sealed = await workers.sealIn(scheme, mine, data.length);
          if (kind === "transferred" && where === "worker threads")
            assert.equal(mine.length, 0, "the lane's memory travelled to the worker");
          assert.equal(sealed.parts.length, 1);
          assert.equal(sealed.parts[0]!.buffer, sealed.lane.buffer);
          assert.equal(sealed.parts[0]!.byteOffset, sealed.lane.byteOffset);
          const codec = new BlobCodec(scheme === plain ? null : keys);
          assert.deepEqual(
            codec.openSync(BlobKind.chunk, sealed.id!.toString("hex"), sealed.parts[0]!),
            data,
          );
        }
      });

      it(`open in a ${kind} lane: the plaintext comes back at the lane's start`, async () => {
        for (const [scheme, data] of [
          [plain, text(700 * KiB)],
          [plain, seededBytes(700 * KiB, 11)],
          [sealedUnder, text(700 * KiB)],
        ] as const) {
          const sealed = await workers.seal(scheme, data);
          const blob = Buffer.concat(sealed.parts);
          const mine = lane(700 * KiB + CHUNK_BLOB_OVERHEAD);
          blob.copy(mine);
          const out = await workers.openIn(scheme, sealed.id!.toString("hex"), mine, blob.length);
          assert.deepEqual(out.plain, data);
          assert.equal(out.plain.buffer, out.lane.buffer);
          assert.equal(out.plain.byteOffset, out.lane.byteOffset);
        }
      });
    }

    it("leave the input of a plain seal untouched", async () => {
      const data = text(200 * KiB);
      const mine = Buffer.from(data);
      await workers.seal(plain, mine);
      assert.deepEqual(mine, data);
    });

    it("keep neighbouring lanes of one slab apart", async () => {
      const lanes = laneBuffers(4, 300 * KiB);
      const inputs = lanes.map((_, i) => text(290 * KiB + i));
      inputs.forEach((d, i) => d.copy(lanes[i]!));
      const sealed = await Promise.all(lanes.map((l, i) => workers.sealIn(plain, l, inputs[i]!.length)));
      sealed.forEach((s, i) => {
        const codec = new BlobCodec(null);
        assert.deepEqual(
          codec.openSync(BlobKind.chunk, s.id!.toString("hex"), Buffer.concat(s.parts)),
          inputs[i],
        );
      });
    });

    it("store random data raw (the sample predicts no saving) and text compressed", async () => {
      const random = await workers.seal(plain, seededBytes(1024 * KiB, 9));
      assert.equal(
        random.parts.reduce((n, p) => n + p.length, 0),
        1024 * KiB + 8,
      );
      const t = await workers.seal(plain, text(1024 * KiB));
      assert.ok(t.parts.reduce((n, p) => n + p.length, 0) < 100 * KiB);
    });

    it("compress a chunk whose sampled slices are compressible although its start is random", async () => {
      const data = Buffer.concat([seededBytes(64 * KiB, 4), Buffer.alloc(960 * KiB, 0x41)]);
      const sealed = await workers.seal(plain, data);
      assert.ok(sealed.parts.reduce((n, p) => n + p.length, 0) < 128 * KiB);
    });

    it("open what they sealed, checking the content against the name", async () => {
      const data = text(300 * KiB);
      for (const scheme of [plain, sealedUnder]) {
        const sealed = await workers.seal(scheme, data);
        const hex = sealed.id!.toString("hex");
        assert.deepEqual(await workers.open(scheme, hex, Buffer.concat(sealed.parts)), data);
        const other = "0".repeat(64);
        await assert.rejects(
          () => workers.open(scheme, other, Buffer.concat(sealed.parts)),
          scheme === plain ? /does not hash to its id/ : /authentication failed/,
        );
      }
    });

    it("refuse a damaged blob with ChunkOpenError and keep serving afterwards", async () => {
      const data = seededBytes(100 * KiB, 5);
      const sealed = await workers.seal(sealedUnder, data);
      const blob = Buffer.concat(sealed.parts);
      blob[blob.length - 1]! ^= 1;
      await assert.rejects(() => workers.open(sealedUnder, sealed.id!.toString("hex"), blob), ChunkOpenError);
      await assert.rejects(
        () => workers.open(plain, "ab".repeat(32), Buffer.from("SVB1garbage")),
        ChunkOpenError,
      );
      const again = await workers.seal(plain, data);
      assert.deepEqual(again.id, createHash("sha256").update(data).digest());
    });

    it("spread concurrent work over the pool and keep every result with its input", async () => {
      const inputs = Array.from({ length: 40 }, (_, i) => seededBytes(64 * KiB + i, 100 + i));
      const out = await Promise.all(inputs.map((d) => workers.sealIn(plain, owned(d), d.length)));
      out.forEach((s, i) => assert.deepEqual(s.id, createHash("sha256").update(inputs[i]!).digest()));
    });

    it(
      where === "worker threads" ? "start the workers and no work on the main thread" : "start no worker",
      () => {
        assert.equal(workers.started, where === "worker threads");
        assert.equal(workers.inlineDone > 0, where === "the main thread");
      },
    );
  });
