import { resolve } from "node:path";
import { acquireLock, type LockMode } from "./locks.js";
import { LocalStorage } from "./local-storage.js";
import { Repository } from "./repository.js";
import { randomBytes } from "node:crypto";

export interface OpenedRepository {
  readonly repo: Repository;
  /** Names of dead holders whose locks this open removed, for a warning. */
  readonly brokeDead: readonly string[];
  close(): Promise<void>;
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
  const owner = `p${process.pid}-${randomBytes(4).toString("hex")}`;
  const storage = new LocalStorage(where, { owner });
  // Reading the config first gives "not a repository" before any lock file is written there.
  const repo = await Repository.open(storage, { passphrase: options.passphrase, where });
  const lock = await acquireLock(storage, options.mode, { command: options.command, owner, where });
  if (lock.brokeDead.length > 0) await storage.cleanTemporary(lock.brokeDead.map((l) => l.id));
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
