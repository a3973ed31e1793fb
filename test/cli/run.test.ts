import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { commands } from "../../src/cli/commands/index.js";
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

  it("prints a command's usage and summary for --help", async () => {
    const io = captureIo();
    assert.equal(await runCli(["backup", "image", "--help"], io), 0);
    assert.match(io.out(), /^usage: snapvisor backup image FILE --repo DIR --machine ID/);
    assert.match(io.out(), /only the chunks those byte extents touch are read/);
  });

  it("lists every command of the table in the help text", async () => {
    const io = captureIo();
    await runCli(["--help"], io);
    for (const c of commands) assert.ok(io.out().includes(`  ${c.usage}\n`), c.usage);
  });

  it("loads each command's implementation when it runs: every one rejects an unknown option with exit 2", async () => {
    const paths = new Set(commands.map((c) => c.path.join(" ")));
    assert.equal(paths.size, commands.length, "command paths are unique");
    for (const c of commands) {
      const io = captureIo();
      assert.equal(await runCli([...c.path, "--no-such-option"], io), 2, `${c.path.join(" ")}: ${io.err()}`);
      assert.match(io.err(), /no-such-option.*\[USAGE\]/, c.path.join(" "));
    }
  });
});
