import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { withReadSize } from "../../src/controller/disk-inputs.js";
import type { DiskSource, Extent } from "../../src/domain/ports.js";
import type { PointDiskInput } from "../../src/domain/repository-port.js";

const MiB = 1024 * 1024;

/** A source that counts how often it is asked for its allocation. */
function source(allocated: (() => Promise<readonly Extent[]>) | undefined) {
  const calls = { allocated: 0 };
  const s: DiskSource = {
    capacity: 64 * MiB,
    read: async (target) => target.length,
    close: async () => {},
    ...(allocated
      ? {
          allocated: () => {
            calls.allocated++;
            return allocated();
          },
        }
      : {}),
  };
  return { s, calls };
}

function input(src: DiskSource, changed: PointDiskInput["changed"]): PointDiskInput {
  return { key: "scsi0:0", capacity: 64 * MiB, source: src, changed, changeId: "c", fullReason: "" };
}

describe("withReadSize()", () => {
  it("counts a full read at the source's allocated areas, asking the source once", async () => {
    const { s, calls } = source(async () => [
      { start: 0, length: 3 * MiB },
      { start: 10 * MiB, length: MiB },
    ]);
    const r = await withReadSize(input(s, "all"));
    assert.equal(r.bytes, 4 * MiB);
    assert.deepEqual(await r.input.source.allocated?.(), [
      { start: 0, length: 3 * MiB },
      { start: 10 * MiB, length: MiB },
    ]);
    assert.equal(calls.allocated, 1, "the repository gets the answer already given");
  });

  it("counts an incremental read at its changed areas", async () => {
    const { s, calls } = source(async () => []);
    const r = await withReadSize(
      input(s, [
        { start: 0, length: 4096 },
        { start: MiB, length: 8192 },
      ]),
    );
    assert.equal(r.bytes, 12288);
    assert.equal(calls.allocated, 0);
  });

  it("counts the whole disk when the source cannot say, or fails to", async () => {
    assert.equal((await withReadSize(input(source(undefined).s, "all"))).bytes, 64 * MiB);
    const failing = source(async () => Promise.reject(new Error("BAT unreadable")));
    const r = await withReadSize(input(failing.s, "all"));
    assert.equal(r.bytes, 64 * MiB);
    assert.equal(r.input.source, failing.s, "the repository meets the failure itself");
  });

  it("passes an abort on instead of guessing", async () => {
    const controller = new AbortController();
    controller.abort(new Error("SIGINT"));
    const { s } = source(async () => Promise.reject(new Error("aborted")));
    await assert.rejects(withReadSize(input(s, "all"), controller.signal), /aborted/);
  });
});
