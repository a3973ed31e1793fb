import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ChunkWorkers } from "../../src/repository/chunk-workers.js";
import {
  INLINE_BYTES,
  placeChunkWork,
  warmAhead,
  type Placement,
  type PlacementState,
} from "../../src/repository/chunk-placement.js";
import { seededBytes } from "./helpers.js";

const MiB = 1024 * 1024;
const base: PlacementState = { length: MiB, inlineDone: 0, inlineBytes: 8 * MiB, started: false, ready: 0 };

describe("placeChunkWork()", () => {
  const cases: [string, Partial<PlacementState>, Placement][] = [
    ["the first chunk of a job runs on the main thread", {}, { run: "inline", start: false }],
    [
      "a chunk that fills the main thread's share exactly stays there",
      { inlineDone: 7 * MiB },
      { run: "inline", start: false },
    ],
    [
      "the chunk past the share starts the workers and still runs on the main thread",
      { inlineDone: 7 * MiB + 1 },
      { run: "inline", start: true },
    ],
    [
      "while the started workers load, the main thread keeps taking chunks",
      { inlineDone: 20 * MiB, started: true },
      { run: "inline", start: false },
    ],
    [
      "a ready worker takes the chunk",
      { inlineDone: 20 * MiB, started: true, ready: 1 },
      { run: "worker", start: false },
    ],
    [
      "a ready worker takes even a small job's chunk (the pool was warmed ahead)",
      { started: true, ready: 2 },
      { run: "worker", start: false },
    ],
    [
      "no share: the chunk goes to the workers, starting them",
      { inlineBytes: 0 },
      { run: "worker", start: true },
    ],
    [
      "no share: the chunk goes to a worker still loading",
      { inlineBytes: 0, started: true },
      { run: "worker", start: false },
    ],
  ];
  for (const [what, state, expected] of cases) {
    it(what, () => assert.deepEqual(placeChunkWork({ ...base, ...state }), expected));
  }
});

describe("warmAhead()", () => {
  const cases: [string, number | undefined, number, boolean][] = [
    ["a job of unknown size starts no worker ahead", undefined, INLINE_BYTES, false],
    ["a job within the main thread's share starts none", INLINE_BYTES, INLINE_BYTES, false],
    ["a larger job starts them while it reads its parent", INLINE_BYTES + 1, INLINE_BYTES, true],
    ["with no share every job starts them", 1, 0, true],
  ];
  for (const [what, bytes, share, expected] of cases) {
    it(what, () => assert.equal(warmAhead(bytes, share), expected));
  }
});

describe("chunk workers hand over from the main thread", () => {
  const sha = (b: Buffer) => createHash("sha256").update(b).digest();

  it("a job within the share is done on the main thread and starts no worker", async () => {
    const workers = new ChunkWorkers(2, { inlineBytes: MiB });
    workers.warm(512 * 1024);
    const data = seededBytes(512 * 1024, 3);
    const sealed = await workers.seal(workers.scheme(null, 1), data);
    assert.deepEqual(sealed.id, sha(data));
    assert.equal(workers.started, false);
    assert.equal(workers.inlineDone, data.length);
  });

  it("past the share the workers start, and once ready they take the chunks", async () => {
    const workers = new ChunkWorkers(1, { inlineBytes: 64 * 1024 });
    const scheme = workers.scheme(null, 1);
    const first = seededBytes(100 * 1024, 4);
    assert.deepEqual((await workers.seal(scheme, first)).id, sha(first));
    assert.equal(workers.started, true, "the chunk past the share started the workers");
    assert.equal(workers.inlineDone, first.length, "and was done on the main thread meanwhile");
    await workers.ready();
    const later = seededBytes(100 * 1024, 5);
    const lane = Buffer.allocUnsafeSlow(later.length + 64);
    later.copy(lane);
    const sealed = await workers.sealIn(scheme, lane, later.length);
    assert.deepEqual(sealed.id, sha(later));
    assert.equal(lane.length, 0, "the lane's memory travelled to the worker");
    assert.equal(workers.inlineDone, first.length, "the main thread took no more");
  });

  it("a job larger than the share warms the workers ahead", async () => {
    const workers = new ChunkWorkers(1, { inlineBytes: MiB });
    workers.warm(2 * MiB);
    assert.equal(workers.started, true);
    await workers.ready();
  });
});
