import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalStorage } from "../../src/repository/local-storage.js";
import { MemoryStorage } from "../../src/repository/memory-storage.js";
import { storageContract } from "./storage-contract.js";

storageContract("LocalStorage", async () => {
  const dir = await mkdtemp(join(tmpdir(), "snapvisor-storage-"));
  return { storage: new LocalStorage(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

storageContract("MemoryStorage", async () => ({ storage: new MemoryStorage(), cleanup: async () => {} }));

describe("LocalStorage", () => {
  it("leaves no temporary file behind after writes, and cleanTemporary() removes a dead writer's", async () => {
    const dir = await mkdtemp(join(tmpdir(), "snapvisor-storage-"));
    try {
      const s = new LocalStorage(dir, { owner: "me" });
      await s.putIfAbsent("a/b", Buffer.from("x"));
      await s.replace("locks/me.json", Buffer.from("{}"));
      assert.deepEqual(await readdir(join(dir, "tmp", "me")), []);
      // What a SIGKILL between writing a temporary file and linking it leaves:
      await mkdir(join(dir, "tmp", "dead"), { recursive: true });
      await writeFile(join(dir, "tmp", "dead", "0123abcd"), "partial");
      assert.equal(await s.cleanTemporary(["dead"]), 1);
      assert.deepEqual(await readdir(join(dir, "tmp")), []);
      assert.deepEqual(await s.get("a/b"), Buffer.from("x"));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("MemoryStorage.crash() loses what was not flushed, as a power cut would", async () => {
    const s = new MemoryStorage();
    await s.putIfAbsent("a", Buffer.from("1"));
    await s.flush();
    await s.putIfAbsent("b", Buffer.from("2"));
    s.crash();
    assert.deepEqual(await s.get("a"), Buffer.from("1"));
    assert.equal(await s.get("b"), undefined);
  });
});
