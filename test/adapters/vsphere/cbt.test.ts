import { test } from "node:test";
import assert from "node:assert/strict";
import { decideCbt, mergeExtents, parseChangeId } from "../../../adapters/vsphere/cbt.js";

const UUID = "52 de 2f 8e 2a 57 b4 3f-7c 8d 51 1e 0a 3c 66 6a";
const disk = (changeId: string | undefined, capacity = 2 ** 30) => ({ key: "2000", capacity, changeId });

test("parseChangeId() splits <uuid>/<sequence> and refuses other text", () => {
  assert.deepEqual(parseChangeId(`${UUID}/12`), { uuid: UUID, seq: "12" });
  assert.equal(parseChangeId("*"), undefined);
  assert.equal(parseChangeId("no-slash"), undefined);
  assert.equal(parseChangeId(`${UUID}/`), undefined);
});

test("decideCbt() reads incrementally from the previous changeId when nothing changed", () => {
  assert.deepEqual(decideCbt(disk(`${UUID}/14`), { changeId: `${UUID}/12`, capacity: 2 ** 30 }), {
    mode: "incremental",
    since: `${UUID}/12`,
  });
});

const fulls: [
  string,
  ReturnType<typeof disk>,
  { changeId: string; capacity: number } | undefined,
  RegExp,
  boolean,
][] = [
  ["the first backup (no previous point)", disk(`${UUID}/1`), undefined, /first backup/, true],
  ["a new disk (no previous state for it)", disk(`${UUID}/1`), undefined, /no previous changeId/, true],
  [
    "a resized disk",
    disk(`${UUID}/14`, 2 * 2 ** 30),
    { changeId: `${UUID}/12`, capacity: 2 ** 30 },
    /resized from 1073741824 to 2147483648/,
    true,
  ],
  [
    "a CBT reset (UUID part changed)",
    disk(`52 aa/3`),
    { changeId: `${UUID}/12`, capacity: 2 ** 30 },
    /reset.*changeId UUID changed/,
    true,
  ],
  [
    "CBT not active (no changeId on the snapshot)",
    disk(undefined),
    { changeId: `${UUID}/12`, capacity: 2 ** 30 },
    /not active/,
    false,
  ],
  [
    "a malformed stored changeId",
    disk(`${UUID}/14`),
    { changeId: "garbage", capacity: 2 ** 30 },
    /malformed/,
    true,
  ],
];
for (const [name, d, prev, reason, allocatedMap] of fulls) {
  test(`decideCbt() reads the whole disk after ${name}, with the reason`, () => {
    const plan = decideCbt(d, prev);
    assert.equal(plan.mode, "full");
    if (plan.mode === "full") {
      assert.match(plan.reason, reason);
      assert.equal(plan.allocatedMap, allocatedMap);
    }
  });
}

test("mergeExtents() sorts, merges overlapping and touching extents, drops empty ones", () => {
  assert.deepEqual(
    mergeExtents([
      { start: 100, length: 10 },
      { start: 0, length: 10 },
      { start: 10, length: 5 },
      { start: 105, length: 20 },
      { start: 50, length: 0 },
    ]),
    [
      { start: 0, length: 15 },
      { start: 100, length: 25 },
    ],
  );
});
