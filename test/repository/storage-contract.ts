import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Storage } from "../../src/repository/storage.js";
import { isSnapvisorError } from "../../src/domain/errors.js";

async function keysOf(storage: Storage, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of storage.list(prefix)) out.push(o.key);
  return out.sort();
}

/** The behaviour every Storage must have; run by each implementation's test file. */
export function storageContract(
  name: string,
  make: () => Promise<{ storage: Storage; cleanup: () => Promise<void> }>,
): void {
  describe(`${name} satisfies the storage contract`, () => {
    const withStorage = (fn: (s: Storage) => Promise<void>) => async () => {
      const { storage, cleanup } = await make();
      try {
        await fn(storage);
      } finally {
        await cleanup();
      }
    };

    it(
      "get() answers undefined for a missing key and the bytes for a present one",
      withStorage(async (s) => {
        assert.equal(await s.get("a/b"), undefined);
        assert.equal(await s.putIfAbsent("a/b", Buffer.from("xyz")), true);
        assert.deepEqual(await s.get("a/b"), Buffer.from("xyz"));
      }),
    );

    it(
      "getInto() reads an object into a caller's buffer, answers undefined when absent, refuses one too large",
      withStorage(async (s) => {
        const target = Buffer.alloc(8, 0xee);
        assert.equal(await s.getInto("a/none", target), undefined);
        await s.putIfAbsent("a/b", [Buffer.from("xy"), Buffer.from("z")]);
        assert.equal(await s.getInto("a/b", target), 3);
        assert.deepEqual(target.subarray(0, 4), Buffer.from([0x78, 0x79, 0x7a, 0xee]));
        await s.putIfAbsent("a/full", Buffer.alloc(8, 1));
        assert.equal(await s.getInto("a/full", target), 8);
        await s.putIfAbsent("a/big", Buffer.alloc(9, 2));
        await assert.rejects(() => s.getInto("a/big", target), /larger than|more than/);
        await s.putIfAbsent("a/empty", Buffer.alloc(0));
        assert.equal(await s.getInto("a/empty", target), 0);
      }),
    );

    it(
      "putIfAbsent() never overwrites: the first writer wins, later ones get false",
      withStorage(async (s) => {
        assert.equal(await s.putIfAbsent("k/1", Buffer.from("first")), true);
        assert.equal(await s.putIfAbsent("k/1", Buffer.from("second")), false);
        assert.deepEqual(await s.get("k/1"), Buffer.from("first"));
      }),
    );

    it(
      "concurrent putIfAbsent() of one key: exactly one wins",
      withStorage(async (s) => {
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, i) => s.putIfAbsent("race/x", Buffer.from(`w${i}`))),
        );
        assert.equal(results.filter(Boolean).length, 1);
        const winner = results.indexOf(true);
        assert.deepEqual(await s.get("race/x"), Buffer.from(`w${winner}`));
      }),
    );

    it(
      "replace() overwrites atomically",
      withStorage(async (s) => {
        await s.replace("locks/a.json", Buffer.from("1"));
        await s.replace("locks/a.json", Buffer.from("22"));
        assert.deepEqual(await s.get("locks/a.json"), Buffer.from("22"));
      }),
    );

    it(
      "list() yields every key under a prefix, recursively, with sizes",
      withStorage(async (s) => {
        await s.putIfAbsent("p/m1/a", Buffer.from("1"));
        await s.putIfAbsent("p/m1/b/c", Buffer.from("22"));
        await s.putIfAbsent("p/m2/d", Buffer.from("333"));
        await s.putIfAbsent("q/e", Buffer.from("4"));
        assert.deepEqual(await keysOf(s, "p/"), ["p/m1/a", "p/m1/b/c", "p/m2/d"]);
        assert.deepEqual(await keysOf(s, "p/m1/"), ["p/m1/a", "p/m1/b/c"]);
        assert.deepEqual(await keysOf(s, "nothing/"), []);
        const sizes: number[] = [];
        for await (const o of s.list("p/m2/")) sizes.push(o.size);
        assert.deepEqual(sizes, [3]);
      }),
    );

    it(
      "delete() removes and reports whether there was something",
      withStorage(async (s) => {
        await s.putIfAbsent("d/x", Buffer.from("1"));
        assert.equal(await s.delete("d/x"), true);
        assert.equal(await s.delete("d/x"), false);
        assert.equal(await s.stat("d/x"), undefined);
      }),
    );

    it(
      "touch() moves mtime forward; deleteIfOlder() spares what was touched after the cutoff",
      withStorage(async (s) => {
        await s.putIfAbsent("c/old", Buffer.from("1"));
        const before = (await s.stat("c/old"))!.mtimeMs;
        assert.equal(await s.deleteIfOlder("c/old", before), false, "mtime equal to the cutoff is not older");
        assert.equal(await s.touch("c/old"), true);
        assert.ok((await s.stat("c/old"))!.mtimeMs >= before);
        assert.equal(await s.deleteIfOlder("c/old", before + 1_000_000_000), true);
        assert.equal(await s.stat("c/old"), undefined);
        assert.equal(await s.touch("c/old"), false);
        assert.equal(await s.deleteIfOlder("c/old", Date.now()), false);
      }),
    );

    it(
      "refuses keys that could escape the store",
      withStorage(async (s) => {
        for (const key of ["../x", "a/../../x", "/abs", "a//b", "", "a/./b"]) {
          await assert.rejects(
            () => s.putIfAbsent(key, Buffer.from("x")),
            (err) => isSnapvisorError(err, "INVALID_ID"),
            key,
          );
        }
      }),
    );

    it(
      "flush() succeeds and keeps everything readable",
      withStorage(async (s) => {
        await s.putIfAbsent("f/1", Buffer.from("1"));
        await s.flush();
        assert.deepEqual(await s.get("f/1"), Buffer.from("1"));
        await s.cleanTemporary();
        assert.deepEqual(await s.get("f/1"), Buffer.from("1"));
      }),
    );
  });
}
