import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { runLanes } from "../../src/repository/pool.js";
import { LanePool, PAGE, laneBuffers, pageAligned, returnLanes } from "../../src/repository/slab.js";

describe("lanes", () => {
  it("are page-aligned, whole pages long, and do not overlap", () => {
    const lanes = laneBuffers(5, 3 * PAGE + 1);
    for (const l of lanes) {
      assert.ok(pageAligned(l));
      assert.equal(l.length, 4 * PAGE);
    }
    lanes[0]!.fill(1);
    lanes[1]!.fill(2);
    assert.ok(lanes[0]!.every((b) => b === 1));
  });

  it("come back for the next run once a run of lanes has settled, a failing one included", async () => {
    const size = 7 * PAGE;
    const first = laneBuffers(3, size);
    await assert.rejects(
      runLanes([1, 2, 3, 4, 5], first, async (n, lane) => {
        if (n === 4) throw new Error("four");
        return lane;
      }),
      /four/,
    );
    const again = laneBuffers(3, size);
    assert.deepEqual(new Set(again), new Set(first));
    returnLanes(again);
    returnLanes(again);
    assert.equal(
      laneBuffers(4, size).filter((l) => first.includes(l)).length,
      3,
      "each spare handed out once",
    );
  });

  it("are handed out one call at a time by a LanePool, callers waiting when all are out", async () => {
    const pool = new LanePool(2, PAGE);
    let inUse = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 6 }, () =>
        pool.use(async (lane) => {
          most = Math.max(most, ++inUse);
          await new Promise((r) => setImmediate(r));
          inUse--;
          return { result: undefined, lane };
        }),
      ),
    );
    assert.equal(most, 2);
  });
});
