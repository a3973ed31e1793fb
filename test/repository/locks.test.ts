import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isSnapvisorError } from "../../src/domain/errors.js";
import {
  acquireLock,
  breakLocks,
  listLocks,
  type LockEnv,
  type LockMode,
} from "../../src/repository/locks.js";
import { MemoryStorage } from "../../src/repository/memory-storage.js";

const t0 = new Date("2026-11-21T10:00:00Z");
function env(over: Partial<LockEnv> = {}): LockEnv {
  return { host: "h1", pid: 100, now: () => t0, isAlive: () => true, ...over };
}

describe("acquireLock()", () => {
  const compatible: [LockMode, LockMode, boolean][] = [
    ["backup", "backup", true],
    ["backup", "read", true],
    ["backup", "gc", true],
    ["gc", "backup", true],
    ["gc", "gc", false],
    ["prune", "backup", false],
    ["backup", "prune", false],
    ["read", "prune", false],
    ["prune", "gc", false],
    ["read", "read", true],
  ];
  for (const [held, wanted, ok] of compatible) {
    it(`${wanted} ${ok ? "may" : "may not"} be taken while a live ${held} lock is held`, async () => {
      const s = new MemoryStorage();
      await acquireLock(s, held, { command: "first", env: env({ pid: 1 }) });
      const attempt = acquireLock(s, wanted, { command: "second", env: env({ pid: 2 }) });
      if (ok) await attempt;
      else {
        await assert.rejects(
          attempt,
          (err) => isSnapvisorError(err, "LOCKED") && err.retryable && /pid 1/.test(err.message),
        );
        assert.equal((await listLocks(s)).length, 1, "the refused lock withdrew its file");
      }
    });
  }

  it("never takes over a lock file of the same name: the first holder's lock stays", async () => {
    const s = new MemoryStorage();
    await acquireLock(s, "backup", { command: "first", owner: "p1-same", env: env({ pid: 1 }) });
    await assert.rejects(
      acquireLock(s, "prune", { command: "second", owner: "p1-same", env: env({ pid: 2 }) }),
      (err) => isSnapvisorError(err, "LOCKED"),
    );
    const [only] = await listLocks(s);
    assert.equal(only?.lock?.command, "first");
  });

  it("removes a conflicting lock of a process that is gone on this host and reports it", async () => {
    const s = new MemoryStorage();
    await acquireLock(s, "prune", { command: "prune", env: env({ pid: 7 }) });
    const held = await acquireLock(s, "backup", {
      command: "backup",
      env: env({ pid: 8, isAlive: (pid) => pid !== 7 }),
    });
    assert.deepEqual(
      held.brokeDead.map((l) => l.pid),
      [7],
    );
    await held.release();
    assert.equal((await listLocks(s)).length, 0);
  });

  it("refuses a stale lock of another host with LOCK_STALE naming `repo unlock`, and unlock breaks it", async () => {
    const s = new MemoryStorage();
    await acquireLock(s, "gc", { command: "gc", env: env({ host: "other" }) });
    const later = env({ now: () => new Date(t0.getTime() + 31 * 60_000) });
    await assert.rejects(
      acquireLock(s, "prune", { command: "prune", env: later }),
      (err) => isSnapvisorError(err, "LOCK_STALE") && /repo unlock/.test(err.message),
    );
    // 29 minutes: still presumed live.
    await assert.rejects(
      acquireLock(s, "prune", {
        command: "prune",
        env: env({ now: () => new Date(t0.getTime() + 29 * 60_000) }),
      }),
      (err) => isSnapvisorError(err, "LOCKED"),
    );
    assert.deepEqual(
      (await breakLocks(s, { env: later })).map((l) => l.host),
      ["other"],
    );
    await acquireLock(s, "prune", { command: "prune", env: later });
  });

  it("breakLocks() leaves live locks unless told to remove all", async () => {
    const s = new MemoryStorage();
    await acquireLock(s, "backup", { command: "b", env: env() });
    assert.deepEqual(await breakLocks(s, { env: env() }), []);
    assert.equal((await breakLocks(s, { env: env(), all: true })).length, 1);
  });
});
