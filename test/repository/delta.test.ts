import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  applyDelta,
  deltaHeaderLength,
  parseDelta,
  storeAsDelta,
  SUB_BLOCK,
  subBlocksTouched,
  unionSorted,
  writeDeltaHeader,
} from "../../src/repository/delta.js";
import { seededBytes } from "./helpers.js";

const MiB = 1024 * 1024;
const base = Buffer.alloc(32, 0xab);

/** A delta of `slotLength` bytes holding `blocks` of `data` (the slot's new content). */
function makeDelta(slotLength: number, blocks: number[], data: Buffer): Buffer {
  const out = Buffer.alloc(slotLength + 64);
  const layout = writeDeltaHeader(out, slotLength, base, blocks);
  for (const b of layout.blocks) data.copy(out, b.at, b.index * SUB_BLOCK, b.index * SUB_BLOCK + b.length);
  return out.subarray(0, layout.length);
}

describe("delta format", () => {
  it("lays the changed sub-blocks over the base and nothing else", () => {
    const old = seededBytes(MiB, 1);
    const now = Buffer.from(old);
    seededBytes(SUB_BLOCK, 2).copy(now, 3 * SUB_BLOCK);
    seededBytes(2 * SUB_BLOCK, 3).copy(now, 9 * SUB_BLOCK);
    const delta = makeDelta(MiB, [3, 9, 10], now);
    assert.equal(delta.length, deltaHeaderLength(MiB) + 3 * SUB_BLOCK);
    const parsed = parseDelta(delta);
    assert.deepEqual(
      parsed.blocks.map((b) => b.index),
      [3, 9, 10],
    );
    assert.ok(parsed.base.equals(base));
    const target = Buffer.from(old);
    applyDelta(target, parsed);
    assert.ok(target.equals(now));
  });

  it("handles a slot whose last sub-block is short (the disk's tail)", () => {
    const length = 2 * SUB_BLOCK + 1000;
    const now = seededBytes(length, 4);
    const parsed = parseDelta(makeDelta(length, [2], now));
    assert.equal(parsed.blocks[0]!.data.length, 1000);
    const target = Buffer.alloc(length);
    applyDelta(target, parsed);
    assert.ok(target.subarray(2 * SUB_BLOCK).equals(now.subarray(2 * SUB_BLOCK)));
    assert.ok(target.subarray(0, 2 * SUB_BLOCK).equals(Buffer.alloc(2 * SUB_BLOCK)));
  });

  it("refuses damaged deltas with what is wrong", () => {
    const good = makeDelta(MiB, [1, 5], seededBytes(MiB, 5));
    const cases: [string, (d: Buffer) => Buffer, RegExp][] = [
      ["magic", (d) => Buffer.concat([Buffer.from("XXXX"), d.subarray(4)]), /magic/],
      ["truncated payload", (d) => d.subarray(0, d.length - 1), /truncated at sub-block 5/],
      ["trailing bytes", (d) => Buffer.concat([d, Buffer.alloc(3)]), /3 bytes past/],
      ["sub-block size", (d) => (d.writeUInt32LE(4096, 4), d), /sub-block size/],
      ["truncated header", (d) => d.subarray(0, 20), /magic|truncated/],
    ];
    for (const [name, damage, why] of cases) {
      assert.throws(() => parseDelta(damage(Buffer.from(good))), why, name);
    }
    const pastSlot = makeDelta(3 * SUB_BLOCK, [0], seededBytes(3 * SUB_BLOCK, 6));
    pastSlot[44]! |= 0x80; // bit 7: the slot has 3 sub-blocks
    assert.throws(() => parseDelta(pastSlot), /past the slot/);
    assert.throws(() => applyDelta(Buffer.alloc(10), parseDelta(good)), /for 1048576 bytes/);
    assert.throws(() => writeDeltaHeader(Buffer.alloc(MiB), MiB, base, [3, 2]), /out of order/);
    assert.throws(() => writeDeltaHeader(Buffer.alloc(MiB), MiB, base, [16]), /range/);
  });
});

describe("sub-block decisions", () => {
  it("maps changed extents to the sub-blocks of each slot they touch", () => {
    const cs = 4 * SUB_BLOCK;
    const touched = subBlocksTouched(
      [
        { start: 10, length: 5 }, // slot 0, sub-block 0
        { start: SUB_BLOCK - 1, length: 2 }, // sub-blocks 0 and 1
        { start: 3 * SUB_BLOCK, length: 2 * SUB_BLOCK }, // slot 0 sub-block 3, slot 1 sub-block 0
        { start: 9 * SUB_BLOCK + 7, length: 1 }, // slot 2, sub-block 1
      ],
      cs,
    );
    assert.deepEqual(
      [...touched],
      [
        [0, [0, 1, 3]],
        [1, [0]],
        [2, [1]],
      ],
    );
  });

  it("stores a delta only when at most half the sub-blocks changed and the slot has two or more", () => {
    const table: [number, number, boolean][] = [
      [MiB, 1, true],
      [MiB, 8, true],
      [MiB, 9, false],
      [4 * MiB, 32, true],
      [4 * MiB, 33, false],
      [SUB_BLOCK, 1, false],
      [SUB_BLOCK + 1, 1, true],
    ];
    for (const [length, changed, expected] of table)
      assert.equal(storeAsDelta(length, changed), expected, `${length} bytes, ${changed} changed`);
  });

  it("merges ascending lists without repeats", () => {
    assert.deepEqual(unionSorted([1, 4, 9], [0, 4, 10]), [0, 1, 4, 9, 10]);
    assert.deepEqual(unionSorted([], [2]), [2]);
  });
});
