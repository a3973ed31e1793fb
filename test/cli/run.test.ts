import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { runCli } from "../../src/cli/run.js";
import { captureIo } from "./capture-io.js";

describe("runCli()", () => {
  it("prints help and exits 2 without arguments", async () => {
    const io = captureIo();
    assert.equal(await runCli([], io), 2);
    assert.match(io.out(), /Exit codes/);
  });

  it("rejects an unknown command with exit 2", async () => {
    const io = captureIo();
    assert.equal(await runCli(["frobnicate"], io), 2);
    assert.match(io.err(), /unknown command "frobnicate"/);
  });
});
