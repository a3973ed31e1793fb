import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isSnapvisorError } from "../../src/domain/errors.js";
import { BlobCodec, BlobFormatError, BlobKind } from "../../src/repository/blob.js";
import { encodeRepoConfig, parseRepoConfig, parseSize } from "../../src/repository/config.js";
import { checkExtents, parseExtentsFile, slotsTouched } from "../../src/repository/extents.js";
import { checkSegment } from "../../src/repository/ids.js";
import { DiskIndex } from "../../src/repository/index-format.js";
import { MemoryStorage } from "../../src/repository/memory-storage.js";
import { Repository } from "../../src/repository/repository.js";
import { seededBytes } from "./helpers.js";

/** Seals into one buffer, as it lands on disk. */
async function seal(codec: BlobCodec, kind: BlobKind, name: string, data: Buffer): Promise<Buffer> {
  return Buffer.concat(await codec.seal(kind, name, data));
}

const keys = { dataKey: Buffer.alloc(32, 1), idKey: Buffer.alloc(32, 2) };

describe("BlobCodec", () => {
  const text = Buffer.from("the same line again\n".repeat(500));
  const cases = [
    ["plain", new BlobCodec(null)],
    ["encrypted", new BlobCodec(keys)],
  ] as const;
  for (const [name, codec] of cases) {
    it(`${name}: round-trips compressible, incompressible and empty data`, async () => {
      for (const data of [text, seededBytes(10_000, 3), Buffer.alloc(0)]) {
        const blob = await seal(codec, BlobKind.chunk, "id", data);
        assert.deepEqual(await codec.open(BlobKind.chunk, "id", blob), data);
      }
      assert.ok((await seal(codec, BlobKind.chunk, "id", text)).length < text.length / 10, "compressed");
    });

    it(`${name}: a flipped byte or truncation in a manifest blob is refused`, async () => {
      const blob = await seal(codec, BlobKind.manifest, "points/m/p/manifest", text);
      const flipped = Buffer.from(blob);
      flipped[blob.length - 5]! ^= 0x40;
      await assert.rejects(
        () => codec.open(BlobKind.manifest, "points/m/p/manifest", flipped),
        BlobFormatError,
      );
      await assert.rejects(
        () => codec.open(BlobKind.manifest, "points/m/p/manifest", blob.subarray(0, 20)),
        BlobFormatError,
      );
      await assert.rejects(
        () => codec.open(BlobKind.index, "points/m/p/manifest", blob),
        BlobFormatError,
        "wrong kind",
      );
    });
  }

  it("encrypted blobs are bound to their name and key", async () => {
    const codec = new BlobCodec(keys);
    const blob = await seal(codec, BlobKind.chunk, "aaaa", text);
    assert.equal(blob.includes(Buffer.from("the same line")), false, "no plaintext in the blob");
    await assert.rejects(() => codec.open(BlobKind.chunk, "bbbb", blob), /authentication failed/);
    const other = new BlobCodec({ dataKey: Buffer.alloc(32, 9), idKey: keys.idKey });
    await assert.rejects(() => other.open(BlobKind.chunk, "aaaa", blob), /authentication failed/);
    await assert.rejects(() => new BlobCodec(null).open(BlobKind.chunk, "aaaa", blob), /encrypted blob/);
  });
});

describe("repository config", () => {
  const valid = {
    format: "snapvisor-repository",
    version: 1,
    id: "7560ebcf-25be-43f5-9c6d-1b3c71f86b44",
    createdAt: "2026-11-21T00:00:00.000Z",
    chunkSize: 4194304,
    chunkId: "sha256",
    compression: { name: "zstd", level: 1 },
    encryption: null,
  } as const;
  const bytes = Buffer.from(encodeRepoConfig(valid));

  const table: [string, Buffer, string][] = [
    ["truncated", bytes.subarray(0, 40), "CONFIG_CORRUPT"],
    ["not JSON", Buffer.from("\u0000\u0001garbage"), "CONFIG_CORRUPT"],
    [
      "a chunk size that is no power of two",
      Buffer.from(JSON.stringify({ ...valid, chunkSize: 3000000 })),
      "CONFIG_CORRUPT",
    ],
    ["a version from the future", Buffer.from(JSON.stringify({ ...valid, version: 7 })), "FORMAT_TOO_NEW"],
    ["another format", Buffer.from(JSON.stringify({ ...valid, format: "restic" })), "CONFIG_CORRUPT"],
  ];
  for (const [what, input, code] of table) {
    it(`parseRepoConfig() refuses ${what} with ${code}`, () => {
      assert.throws(
        () => parseRepoConfig(input, "/r"),
        (err) => isSnapvisorError(err, code),
      );
    });
  }
  it("parseRepoConfig() accepts what encodeRepoConfig() wrote", () => {
    assert.deepEqual(parseRepoConfig(bytes, "/r"), valid);
  });
  it("parseSize() reads 4M, 1MiB, 512k and plain bytes", () => {
    assert.deepEqual(["4M", "1MiB", "512k", "65536"].map(parseSize), [4194304, 1048576, 524288, 65536]);
    assert.throws(
      () => parseSize("four"),
      (err) => isSnapvisorError(err, "USAGE"),
    );
  });
});

describe("DiskIndex", () => {
  it("round-trips and refuses a truncated or inconsistent index", () => {
    const index = new DiskIndex(10 * 65536 + 5, 65536);
    assert.equal(index.count, 11);
    assert.equal(index.slotLength(10), 5);
    index.setId(3, Buffer.alloc(32, 7));
    const bytes = index.encode();
    assert.deepEqual(DiskIndex.decode(bytes).ids, index.ids);
    assert.throws(() => DiskIndex.decode(bytes.subarray(0, bytes.length - 1)), RangeError);
    const lying = Buffer.from(bytes);
    lying.writeUInt32LE(12, 20);
    assert.throws(() => DiskIndex.decode(lying), RangeError);
  });
});

describe("extents", () => {
  const cap = 1000;
  const bad: [string, string][] = [
    ["malformed JSON", "[{"],
    ["not an array", `{"start":0,"length":1}`],
    ["a negative start", `[{"start":-1,"length":1}]`],
    ["a zero length", `[{"start":0,"length":0}]`],
    ["a fractional offset", `[{"start":0.5,"length":1}]`],
    ["a string", `[{"start":"0","length":1}]`],
    ["overlapping extents", `[{"start":0,"length":10},{"start":5,"length":10}]`],
    ["an extent past the end", `[{"start":990,"length":11}]`],
  ];
  for (const [what, text] of bad) {
    it(`parseExtentsFile() refuses ${what} with EXTENTS_INVALID`, () => {
      assert.throws(
        () => parseExtentsFile(text, cap, "x.json"),
        (err) => isSnapvisorError(err, "EXTENTS_INVALID"),
      );
    });
  }
  it("parseExtentsFile() sorts and accepts adjacent extents up to the end", () => {
    assert.deepEqual(parseExtentsFile(`[{"start":990,"length":10},{"start":0,"length":990}]`, cap, "x"), [
      { start: 0, length: 990 },
      { start: 990, length: 10 },
    ]);
  });
  it("slotsTouched() maps extents to the chunk slots they touch, once each", () => {
    const ext = checkExtents(
      [
        { start: 0, length: 1 },
        { start: 99, length: 2 },
        { start: 150, length: 10 },
        { start: 399, length: 1 },
      ],
      400,
    );
    assert.deepEqual(slotsTouched(ext, 100), [0, 1, 3]);
  });
});

describe("ids", () => {
  for (const bad of [
    "..",
    "../etc",
    "a/b",
    ".hidden",
    "-rf",
    "",
    "x".repeat(129),
    "a\u0000b",
    "a\nb",
    "a..b",
  ]) {
    it(`checkSegment() refuses ${JSON.stringify(bad)}`, () => {
      assert.throws(
        () => checkSegment("machine id", bad),
        (err) => isSnapvisorError(err, "INVALID_ID"),
      );
    });
  }
  for (const ok of ["4215a3c7-1b2e-4c5d-9e8f-0a1b2c3d4e5f", "2000", "scsi0:1", "vm-42", "web_01.prod"]) {
    it(`checkSegment() accepts ${ok}`, () => assert.equal(checkSegment("disk key", ok), ok));
  }
});

describe("encrypted repository", () => {
  it("names chunks by keyed MAC, not by their plain SHA-256, and refuses a wrong passphrase", async () => {
    const storage = new MemoryStorage();
    const repo = await Repository.init(storage, { chunkSize: 65536, passphrase: "correct horse" });
    const data = seededBytes(1000, 1);
    const { createHash } = await import("node:crypto");
    assert.notDeepEqual(repo.chunkId(data), createHash("sha256").update(data).digest());
    await assert.rejects(
      () => Repository.open(storage, { passphrase: async () => "wrong" }),
      (err) => isSnapvisorError(err, "WRONG_PASSPHRASE"),
    );
    await assert.rejects(
      () => Repository.open(storage, {}),
      (err) => isSnapvisorError(err, "PASSPHRASE_REQUIRED"),
    );
    const again = await Repository.open(storage, { passphrase: async () => "correct horse" });
    assert.deepEqual(again.chunkId(data), repo.chunkId(data));
  });
});
