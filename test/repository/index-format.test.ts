import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DiskIndex, ZERO_ID } from "../../src/repository/index-format.js";

const id = (n: number) => Buffer.alloc(32, n);

describe("DiskIndex", () => {
  it("writes version 1 without deltas and version 2 with them, and reads both back", () => {
    const plain = new DiskIndex(5 * 1024, 1024);
    plain.setId(1, id(1));
    const v1 = plain.encode();
    assert.equal(v1.readUInt32LE(4), 1);
    assert.ok(DiskIndex.decode(v1).id(1).equals(id(1)));

    const index = DiskIndex.inherit(plain);
    index.setDelta(3, id(3), id(1));
    index.setDelta(0, id(4), ZERO_ID);
    const v2 = index.encode();
    assert.equal(v2.readUInt32LE(4), 2);
    const back = DiskIndex.decode(v2);
    assert.equal(back.deltaCount, 2);
    assert.ok(back.baseOf(3)!.equals(id(1)));
    assert.ok(back.baseOf(0)!.equals(ZERO_ID));
    assert.equal(back.baseOf(1), undefined);
    assert.deepEqual(
      [...back.uniqueIds()].sort(),
      [id(1), id(3), id(4)].map((b) => b.toString("hex")).sort(),
    );
  });

  it("forgets a slot's delta when the slot is set to a whole chunk, and leaves the parent alone", () => {
    const parent = new DiskIndex(4096, 1024);
    parent.setDelta(2, id(2), id(9));
    const parentDecoded = DiskIndex.decode(parent.encode());
    const child = DiskIndex.inherit(parentDecoded);
    child.setId(2, id(5));
    assert.equal(child.baseOf(2), undefined);
    assert.equal(child.encode().readUInt32LE(4), 1, "no deltas left");
    assert.ok(parentDecoded.baseOf(2)!.equals(id(9)));
    assert.equal(child.idBuffers().length, 1);
    assert.notEqual(child.ids, parentDecoded.ids, "a copy by default");
    const adopted = DiskIndex.inherit(parentDecoded, { adopt: true });
    assert.equal(adopted.ids, parentDecoded.ids, "adopt takes the parent's ids over");
    assert.ok(adopted.baseOf(2)!.equals(id(9)));
  });

  it("refuses delta tables that are out of order, past the disk or on an empty slot", () => {
    const index = new DiskIndex(4096, 1024);
    index.setId(1, id(1));
    index.setDelta(2, id(2), id(1));
    index.setDelta(3, id(3), id(1));
    const good = index.encode();
    const entry = 24 + 4 * 32 + 4;
    const swapped = Buffer.from(good);
    swapped.writeUInt32LE(3, entry);
    swapped.writeUInt32LE(2, entry + 36);
    assert.throws(() => DiskIndex.decode(swapped), /out of order/);
    const past = Buffer.from(good);
    past.writeUInt32LE(7, entry + 36);
    assert.throws(() => DiskIndex.decode(past), /past the disk/);
    const empty = Buffer.from(good);
    empty.writeUInt32LE(0, entry);
    assert.throws(() => DiskIndex.decode(empty), /no id/);
    assert.throws(() => DiskIndex.decode(good.subarray(0, good.length - 1)), /length/);
    const future = Buffer.from(good);
    future.writeUInt32LE(3, 4);
    assert.throws(() => DiskIndex.decode(future), /version 3/);
  });
});
