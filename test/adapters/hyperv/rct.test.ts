import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { decodeChangeId, encodeChangeId, rctResetCode } from "../../../adapters/hyperv/rct.js";
import type { RctFailure } from "../../../simulators/hyperv/rct.js";
import { changedRanges, checkLimitId } from "../../../simulators/hyperv/rct.js";

describe("RCT change ids and reset codes", () => {
  it("round-trips a reference point locator, names with '|' included", () => {
    const l = { referencePoint: "snapvisor-backup-a|b", diskId: "ABC" };
    assert.deepEqual(decodeChangeId(encodeChangeId(l)), l);
    assert.equal(decodeChangeId("52 3c 1a/7"), undefined);
  });

  const codes: Array<[number, string, string | undefined]> = [
    [0xc03a0029, "", "0xC03A0029"],
    [0xc03a0030 | 0, "", "0xC03A0030"],
    [32768, "The VHD file is changed (0xC03A0022)", "0xC03A0022"],
    [32768, "Access denied", undefined],
  ];
  for (const [errorCode, text, expected] of codes) {
    it(`maps job error ${errorCode} "${text}" to ${expected ?? "no reset"}`, () => {
      assert.equal(rctResetCode(errorCode, text), expected);
    });
  }
});

describe("the simulator's change tracking", () => {
  const log = { epoch: "11111111-1111-1111-1111-111111111111", gen: 3, writes: [], resetCode: undefined };
  it("accepts an id of the current epoch up to the target generation", () => {
    assert.equal(checkLimitId(`rctX:${log.epoch}:2`, log, log.epoch, 2), 2);
  });
  it("fails ids of another epoch with the reset's code, and garbage with 0xC03A0029", () => {
    const reset = { ...log, resetCode: "0xC03A0022" };
    assert.throws(
      () => checkLimitId("rctX:22222222-2222-2222-2222-222222222222:1", reset, log.epoch, 2),
      (e: RctFailure) => e.code === "0xC03A0022",
    );
    assert.throws(
      () => checkLimitId("nonsense", log, log.epoch, 2),
      (e: RctFailure) => e.code === "0xC03A0029",
    );
  });
  it("reports merged 4 KiB-aligned ranges of the generations after the limit, clipped to the window", () => {
    const writes = [
      { gen: 1, start: 0, length: 10 },
      { gen: 2, start: 5000, length: 100 },
      { gen: 2, start: 8000, length: 9000 },
      { gen: 3, start: 100000, length: 10 },
    ];
    assert.deepEqual(changedRanges(writes, 1, 2, 0, 1 << 20), [{ start: 4096, length: 16384 }]);
    assert.deepEqual(changedRanges(writes, 1, 3, 10000, 20000), [{ start: 10000, length: 10480 }]);
  });
});
