import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { BlobCodec, BlobKind, CHUNK_BLOB_OVERHEAD } from "../../src/repository/blob.js";
import { ChunkOpenError, ChunkWorkers } from "../../src/repository/chunk-workers.js";
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

describe("chunk workers", () => {
  const workers = new ChunkWorkers(2);
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

  it("give an owned buffer's memory back with the sealed blob inside it, and leave a borrowed one intact", async () => {
    const data = text(512 * KiB);
    const mine = Buffer.allocUnsafeSlow(data.length + CHUNK_BLOB_OVERHEAD);
    data.copy(mine);
    const sealed = await workers.seal(plain, mine.subarray(0, data.length), true);
    assert.equal(mine.length, 0, "the owned buffer travelled to the worker");
    assert.equal(sealed.buffer.length, data.length + CHUNK_BLOB_OVERHEAD);
    assert.ok(
      sealed.parts.every((p) => p.buffer === sealed.buffer.buffer),
      "the blob is placed in the buffer",
    );
    const hex = sealed.id!.toString("hex");
    assert.deepEqual(new BlobCodec(null).openSync(BlobKind.chunk, hex, Buffer.concat(sealed.parts)), data);
    const borrowed = Buffer.from(data);
    await workers.seal(plain, borrowed);
    assert.deepEqual(borrowed, data);
  });

  it("open a blob inside a lane's buffer and give the plaintext back in the same memory", async () => {
    for (const [scheme, data] of [
      [plain, text(700 * KiB)],
      [plain, seededBytes(700 * KiB, 11)],
      [sealedUnder, text(700 * KiB)],
    ] as const) {
      const sealed = await workers.seal(scheme, data);
      const blob = Buffer.concat(sealed.parts);
      const lane = Buffer.allocUnsafeSlow(700 * KiB + CHUNK_BLOB_OVERHEAD);
      blob.copy(lane);
      const out = await workers.openIn(scheme, sealed.id!.toString("hex"), lane, blob.length);
      assert.deepEqual(out.plain, data);
      assert.equal(out.plain.buffer, out.buffer.buffer);
      assert.equal(out.buffer.length, 700 * KiB + CHUNK_BLOB_OVERHEAD);
    }
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
    const out = await Promise.all(inputs.map((d) => workers.seal(plain, owned(d), true)));
    out.forEach((s, i) => assert.deepEqual(s.id, createHash("sha256").update(inputs[i]!).digest()));
  });
});
