import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { abortOnSignals } from "../../src/cli/signals.js";
import { isSnapvisorError } from "../../src/domain/errors.js";

describe("abortOnSignals()", () => {
  it("aborts on the first SIGINT with JOB_ABORTED and forces on the second", () => {
    const proc = new EventEmitter();
    const seen: string[] = [];
    const a = abortOnSignals(proc, {
      onFirst: (n) => seen.push(`first ${n}`),
      onForce: () => seen.push("force"),
    });
    assert.equal(a.signal.aborted, false);
    proc.emit("SIGINT");
    assert.equal(a.signal.aborted, true);
    assert.ok(isSnapvisorError(a.signal.reason, "JOB_ABORTED"));
    proc.emit("SIGTERM");
    assert.deepEqual(seen, ["first SIGINT", "force"]);
  });

  it("stops listening once disposed", () => {
    const proc = new EventEmitter();
    const a = abortOnSignals(proc, { onForce: () => assert.fail("no force after dispose") });
    a.dispose();
    assert.equal(proc.listenerCount("SIGINT") + proc.listenerCount("SIGTERM"), 0);
  });
});
