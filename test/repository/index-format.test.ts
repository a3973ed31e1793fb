import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DiskIndex, ZERO_ID } from "../../src/repository/index-format.js";

const id = (n: number) => Buffer.alloc(32, n);

describe("DiskIndex", () => {
  it("writes version 2 (runs of ids, deltas) and reads it and version 1 back", () => {
    const plain = new DiskIndex(5 * 1024, 1024);
    plain.setId(1, id(1));
    const v2plain = plain.encode();
    assert.equal(v2plain.readUInt32LE(4), 2);
    assert.ok(DiskIndex.decode(v2plain).id(1).equals(id(1)));
    assert.ok(DiskIndex.decode(v2plain).isZero(0));
    const v1 = Buffer.concat([v2plain.subarray(0, 24), plain.ids]);
    v1.writeUInt32LE(1, 4);
    assert.ok(DiskIndex.decode(v1).id(1).equals(id(1)));

    const index = DiskIndex.inherit(plain);
    index.setDelta(3, id(3), id(1));
    index.setDelta(0, id(4), ZERO_ID);
    const back = DiskIndex.decode(index.encode());
    assert.equal(back.deltaCount, 2);
    assert.ok(back.baseOf(3)!.equals(id(1)));
    assert.ok(back.baseOf(0)!.equals(ZERO_ID));
    assert.equal(back.baseOf(1), undefined);
    assert.deepEqual(
      [...back.uniqueIds()].sort(),
      [id(1), id(3), id(4)].map((b) => b.toString("hex")).sort(),
    );
  });

  it("stores a sparse disk's index in the size of its data", () => {
    const index = new DiskIndex(8 * 2 ** 40, 4 * 2 ** 20); // 8 TiB: 2 Mi slots
    for (const slot of [0, 1, 2, 900_000, 2 ** 21 - 1]) index.setId(slot, id((slot % 200) + 1));
    const bytes = index.encode();
    assert.ok(bytes.length < 400, `${bytes.length} bytes`);
    const back = DiskIndex.decode(bytes);
    assert.ok(back.ids.equals(index.ids));
  });

  it("forgets a slot's delta when the slot is set to a whole chunk, and leaves the parent alone", () => {
    const parent = new DiskIndex(4096, 1024);
    parent.setDelta(2, id(2), id(9));
    const parentDecoded = DiskIndex.decode(parent.encode());
    const child = DiskIndex.inherit(parentDecoded);
    child.setId(2, id(5));
    assert.equal(child.baseOf(2), undefined);
    assert.equal(DiskIndex.decode(child.encode()).deltaCount, 0, "no deltas left");
    assert.ok(parentDecoded.baseOf(2)!.equals(id(9)));
    assert.equal(child.idBuffers().length, 1);
    assert.notEqual(child.ids, parentDecoded.ids, "a copy by default");
    const adopted = DiskIndex.inherit(parentDecoded, { adopt: true });
    assert.equal(adopted.ids, parentDecoded.ids, "adopt takes the parent's ids over");
    assert.ok(adopted.baseOf(2)!.equals(id(9)));
  });

  it("refuses damaged runs and delta tables: out of order, past the disk, on an empty slot, short", () => {
    const index = new DiskIndex(4096, 1024);
    index.setId(1, id(1));
    index.setDelta(2, id(2), id(1));
    index.setDelta(3, id(3), id(1));
    const good = index.encode();
    const entry = good.length - 2 * 36;
    const damaged = (edit: (b: Buffer) => void) => {
      const b = Buffer.from(good);
      edit(b);
      return b;
    };
    const cases: [string, Buffer, RegExp][] = [
      [
        "swapped",
        damaged((b) => (b.writeUInt32LE(3, entry), b.writeUInt32LE(2, entry + 36))),
        /out of order/,
      ],
      ["past the disk", damaged((b) => b.writeUInt32LE(7, entry + 36)), /past the disk/],
      ["empty slot", damaged((b) => b.writeUInt32LE(0, entry)), /no id/],
      ["short", good.subarray(0, good.length - 1), /length/],
      ["future version", damaged((b) => b.writeUInt32LE(3, 4)), /version 3/],
      ["run too long", damaged((b) => b.writeUInt32LE(2, 24)), /does not fit/],
      ["empty run", damaged((b) => (b.writeUInt32LE(0, 24), b.writeUInt32LE(0, 28))), /0 \+ 0/],
      ["zero id in a run", damaged((b) => b.fill(0, 32, 64)), /zero id/],
    ];
    for (const [name, bytes, why] of cases) assert.throws(() => DiskIndex.decode(bytes), why, name);
  });
});
