/**
 * Contract suites for the ByteSource and DiskSource ports: every implementation (local files here;
 * SFTP and HTTPS sources in the adapters; every image reader) must pass the same tests.
 * Usage: `byteSourceContract("sftp", async (bytes) => makeSourceHolding(bytes))`.
 */
import { it } from "node:test";
import assert from "node:assert/strict";
import type { ByteSource, DiskSource } from "../../src/domain/ports.js";
import { isSnapvisorError } from "../../src/domain/errors.js";
import { noise } from "./patterns.js";

/** `make(bytes)` returns a fresh source holding exactly `bytes`. */
export function byteSourceContract(name: string, make: (bytes: Buffer) => Promise<ByteSource>): void {
  const bytes = noise(300_000, 41);

  it(`${name}: reports its size and reads exact ranges anywhere`, async () => {
    const source = await make(bytes);
    try {
      assert.equal(source.size, bytes.length);
      for (const [offset, length] of [
        [0, 1],
        [4095, 2],
        [123_457, 65_536],
        [0, bytes.length],
      ] as const) {
        assert.ok(
          Buffer.from(await source.read(offset, length)).equals(bytes.subarray(offset, offset + length)),
          `${offset}+${length}`,
        );
      }
    } finally {
      await source.close();
    }
  });

  it(`${name}: reads short only at the end, and nothing past it`, async () => {
    const source = await make(bytes);
    try {
      assert.ok(
        Buffer.from(await source.read(bytes.length - 10, 100)).equals(bytes.subarray(bytes.length - 10)),
      );
      assert.equal((await source.read(bytes.length, 10)).length, 0);
      assert.equal((await source.read(bytes.length + 5000, 10)).length, 0);
    } finally {
      await source.close();
    }
  });

  it(`${name}: serves concurrent reads independently`, async () => {
    const source = await make(bytes);
    try {
      const offsets = [0, 50_000, 100_000, 150_000, 200_000, 250_000];
      const parts = await Promise.all(offsets.map((o) => source.read(o, 40_000)));
      parts.forEach((p, i) =>
        assert.ok(Buffer.from(p).equals(bytes.subarray(offsets[i], (offsets[i] ?? 0) + 40_000))),
      );
    } finally {
      await source.close();
    }
  });

  it(`${name}: refuses negative offsets and honours an aborted signal`, async () => {
    const source = await make(bytes);
    try {
      await assert.rejects(source.read(-1, 10), (e) => isSnapvisorError(e));
      const controller = new AbortController();
      controller.abort();
      await assert.rejects(source.read(0, 10, controller.signal), (e) => isSnapvisorError(e, "DISK_ABORTED"));
    } finally {
      await source.close();
    }
  });
}

/**
 * `make()` returns a fresh disk whose contents are `expected` (its capacity is `expected.length`).
 * `precise` says the disk's allocated() must not cover a 1 MiB zero area at the given offset.
 */
export function diskSourceContract(
  name: string,
  expected: () => Buffer,
  make: () => Promise<DiskSource>,
  precise?: { holeAt: number },
): void {
  it(`${name}: reads the expected bytes in pieces of any size and alignment`, async () => {
    const want = expected();
    const disk = await make();
    try {
      assert.equal(disk.capacity, want.length);
      for (const step of [4096, 65_536 + 512, 1_048_576 + 3]) {
        const out = Buffer.alloc(want.length);
        for (let at = 0; at < want.length; at += step) {
          const n = await disk.read(out.subarray(at, Math.min(at + step, want.length)), at);
          assert.equal(n, Math.min(step, want.length - at));
        }
        assert.ok(out.equals(want), `step ${step}`);
      }
    } finally {
      await disk.close();
    }
  });

  it(`${name}: reads short at the end, zero bytes at the end, and refuses reads past it`, async () => {
    const want = expected();
    const disk = await make();
    try {
      const tail = new Uint8Array(10_000);
      assert.equal(await disk.read(tail, want.length - 100), 100);
      assert.ok(Buffer.from(tail.subarray(0, 100)).equals(want.subarray(want.length - 100)));
      assert.equal(await disk.read(new Uint8Array(10), want.length), 0);
      await assert.rejects(disk.read(new Uint8Array(10), want.length + 1), (e) =>
        isSnapvisorError(e, "DISK_OUT_OF_RANGE"),
      );
      await assert.rejects(disk.read(new Uint8Array(10), -1), (e) =>
        isSnapvisorError(e, "DISK_OUT_OF_RANGE"),
      );
    } finally {
      await disk.close();
    }
  });

  it(`${name}: allocated() is sorted, disjoint, inside the disk, and covers every non-zero byte`, async () => {
    const want = expected();
    const disk = await make();
    try {
      const extents = (await disk.allocated?.()) ?? [{ start: 0, length: want.length }];
      let end = 0;
      for (const e of extents) {
        assert.ok(e.length > 0 && e.start >= end && e.start + e.length <= want.length, JSON.stringify(e));
        assert.ok(
          want.subarray(end, e.start).every((b) => b === 0),
          `data in the gap before ${e.start}`,
        );
        end = e.start + e.length;
      }
      assert.ok(
        want.subarray(end).every((b) => b === 0),
        "data after the last extent",
      );
      if (precise !== undefined) {
        const hole = { start: precise.holeAt, end: precise.holeAt + 1_048_576 };
        assert.ok(
          !extents.some((e) => e.start < hole.end && e.start + e.length > hole.start),
          "the zero area is reported as allocated",
        );
      }
    } finally {
      await disk.close();
    }
  });
}
