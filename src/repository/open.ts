import { resolve } from "node:path";
import { acquireLock, listLocks, processLockEnv, type LockMode } from "./locks.js";
import { LocalStorage } from "./local-storage.js";
import { HOST_TAG, OWNER_ID, newOwnerId } from "./owner.js";
import { Repository } from "./repository.js";
import type { Storage } from "./storage.js";

export { newOwnerId } from "./owner.js";

export interface OpenedRepository {
  readonly repo: Repository;
  /** Names of dead holders whose locks this open removed, for a warning. */
  readonly brokeDead: readonly string[];
  close(): Promise<void>;
}

/**
 * Temporary folders whose holder holds no lock and is a process of this host that no longer runs:
 * a holder killed before its lock file was written (or after its lock was broken) leaves one.
 */
async function deadOwnersWithoutLock(storage: Storage, isAlive: (pid: number) => boolean): Promise<string[]> {
  const locked = new Set(
    (await listLocks(storage)).map(({ key }) => key.slice("locks/".length, -".json".length)),
  );
  const owners = new Set<string>();
  for await (const o of storage.list("tmp/")) owners.add(o.key.split("/")[1] ?? "");
  return [...owners].filter((owner) => {
    const m = OWNER_ID.exec(owner);
    return m !== null && !locked.has(owner) && m[2] === HOST_TAG && !isAlive(Number(m[1]));
  });
}

/**
 * Opens a repository in a local directory under a lock of `mode`. The lock id doubles as the
 * storage's temporary-file owner, so breaking a dead holder's lock also removes its temporary files.
 */
export async function openLocalRepository(
  dir: string,
  options: { mode: LockMode; command: string; passphrase: () => Promise<string | undefined> },
): Promise<OpenedRepository> {
  const where = resolve(dir);
  const owner = newOwnerId();
  const storage = new LocalStorage(where, { owner });
  // Reading the config first gives "not a repository" before any lock file is written there.
  const repo = await Repository.open(storage, { passphrase: options.passphrase, where });
  const lock = await acquireLock(storage, options.mode, { command: options.command, owner, where });
  const dead = [
    ...lock.brokeDead.map((l) => l.id),
    ...(await deadOwnersWithoutLock(storage, processLockEnv.isAlive)),
  ];
  if (dead.length > 0) await storage.cleanTemporary(dead);
  return {
    repo,
    brokeDead: lock.brokeDead.map(
      (l) => `${l.mode} lock of "${l.command}" (pid ${l.pid}, since ${l.createdAt})`,
    ),
    async close() {
      await lock.release();
      await storage.cleanTemporary();
    },
  };
}
