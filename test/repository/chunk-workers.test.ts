import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { BlobCodec, BlobKind } from "../../src/repository/blob.js";
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

  it("give an owned buffer's memory back, holding the same bytes, and leave a borrowed one intact", async () => {
    const data = text(512 * KiB);
    const mine = owned(data);
    const sealed = await workers.seal(plain, mine, true);
    assert.equal(mine.length, 0, "the owned buffer travelled to the worker");
    assert.equal(sealed.buffer.length, data.length);
    assert.deepEqual(sealed.buffer, data);
    const borrowed = Buffer.from(data);
    await workers.seal(plain, borrowed);
    assert.deepEqual(borrowed, data);
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
