import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SnapvisorError, isSnapvisorError } from "../../src/domain/errors.js";

describe("SnapvisorError", () => {
  it("keeps code, cause, retryable flag and frozen details", () => {
    const cause = new Error("disk full");
    const err = new SnapvisorError("NO_SPACE", "Cannot write chunk", {
      cause,
      retryable: true,
      details: { path: "/r" },
    });
    assert.equal(err.code, "NO_SPACE");
    assert.equal(err.cause, cause);
    assert.equal(err.retryable, true);
    assert.deepEqual(err.details, { path: "/r" });
    assert.ok(Object.isFrozen(err.details));
  });

  it("isSnapvisorError() matches on code when codes are given", () => {
    const err = new SnapvisorError("A", "x");
    assert.equal(isSnapvisorError(err), true);
    assert.equal(isSnapvisorError(err, "A", "B"), true);
    assert.equal(isSnapvisorError(err, "B"), false);
    assert.equal(isSnapvisorError(new Error("x")), false);
  });
});
