import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { WriteBehind } from "../../src/repository/write-behind.js";

/** A write that ends when the test says so. */
function gate() {
  let open!: () => void;
  let fail!: (e: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { done, open, fail };
}

describe("WriteBehind", () => {
  it("keeps at most the given writes and bytes in flight, and drains them all", async () => {
    const behind = new WriteBehind(2, 100);
    const gates = [gate(), gate(), gate(), gate()];
    let running = 0;
    let most = 0;
    const write = (i: number) => async () => {
      running++;
      most = Math.max(most, running);
      await gates[i]!.done;
      running--;
    };
    await behind.add(10, write(0));
    await behind.add(10, write(1));
    let thirdStarted = false;
    const third = behind.add(10, write(2)).then(() => (thirdStarted = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(thirdStarted, false, "two writes are in flight");
    gates[0]!.open();
    await third;
    // 95 bytes do not fit next to the 20 in flight: the fourth waits for both.
    const fourth = behind.add(95, write(3));
    gates[1]!.open();
    gates[2]!.open();
    await fourth;
    gates[3]!.open();
    await behind.drain();
    assert.equal(most, 2);
    assert.equal(running, 0);
  });

  it("reports the first failure at drain and refuses new writes after it", async () => {
    const behind = new WriteBehind(4, 1000);
    const g = gate();
    await behind.add(1, () => g.done);
    g.fail(new Error("ENOSPC"));
    await assert.rejects(behind.drain(), /ENOSPC/);
    await assert.rejects(
      behind.add(1, async () => {}),
      /ENOSPC/,
    );
  });
});
