import { hostname } from "node:os";
import type { z } from "zod";
import { repoError } from "./errors.js";
import { lazySchema } from "./lazy-zod.js";
import { hasFields, isInt, isOneOf, isString } from "./record-checks.js";
import { newOwnerId } from "./owner.js";
import type { Storage } from "./storage.js";

/**
 * Repository locks, one small object per holder under `locks/`:
 * - `read`   (restore, verify, list): excluded only by prune, which deletes points;
 * - `backup` (writers): many at once; excluded by prune (an incremental relies on its parent);
 * - `gc`:    one at a time, not with prune; runs beside backups, which its grace period protects;
 * - `prune`: alone.
 * A holder writes its lock first and then looks for conflicts, withdrawing its own if it finds one,
 * so two racing holders may both back off but never both proceed.
 */
export type LockMode = "read" | "backup" | "gc" | "prune";

const conflicts: Record<LockMode, readonly LockMode[]> = {
  read: ["prune"],
  backup: ["prune"],
  gc: ["gc", "prune"],
  prune: ["read", "backup", "gc", "prune"],
};

const MODES = ["read", "backup", "gc", "prune"] as const;

export const lockSchema = lazySchema((z) =>
  z.object({
    id: z.string(),
    mode: z.enum(MODES),
    host: z.string(),
    pid: z.number().int(),
    command: z.string(),
    createdAt: z.string(),
    heartbeatAt: z.string(),
  }),
);
export type LockInfo = z.infer<ReturnType<typeof lockSchema>>;

/** The plain check of the fast path (lazy-zod.ts): the lock as zod would return it, or undefined. */
export function checkLock(l: unknown): LockInfo | undefined {
  const ok =
    hasFields(l, ["id", "mode", "host", "pid", "command", "createdAt", "heartbeatAt"]) &&
    isString(l["id"]) &&
    isOneOf(l["mode"], MODES) &&
    isString(l["host"]) &&
    isInt(l["pid"]) &&
    isString(l["command"]) &&
    isString(l["createdAt"]) &&
    isString(l["heartbeatAt"]);
  return ok ? (l as LockInfo) : undefined;
}

/** A lock not refreshed for this long, held on another host, is presumed abandoned. */
export const STALE_AFTER_MS = 30 * 60 * 1000;
const HEARTBEAT_MS = 5 * 60 * 1000;

export interface LockEnv {
  readonly host: string;
  readonly pid: number;
  readonly now: () => Date;
  /** False only when the process is certainly gone (ESRCH). */
  readonly isAlive: (pid: number) => boolean;
}

export const processLockEnv: LockEnv = {
  host: hostname(),
  pid: process.pid,
  now: () => new Date(),
  isAlive(pid) {
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code !== "ESRCH";
    }
  },
};

export type LockState = "live" | "dead" | "stale";

export function lockState(lock: LockInfo, env: LockEnv): LockState {
  if (lock.host === env.host) return env.isAlive(lock.pid) ? "live" : "dead";
  const age = env.now().getTime() - Date.parse(lock.heartbeatAt);
  return age > STALE_AFTER_MS ? "stale" : "live";
}

export async function listLocks(storage: Storage): Promise<{ key: string; lock: LockInfo | undefined }[]> {
  const out: { key: string; lock: LockInfo | undefined }[] = [];
  for await (const o of storage.list("locks/")) {
    const bytes = await storage.get(o.key);
    let lock: LockInfo | undefined;
    try {
      const json: unknown = bytes ? JSON.parse(bytes.toString("utf8")) : undefined;
      lock = json === undefined ? undefined : (checkLock(json) ?? lockSchema().parse(json));
    } catch {
      lock = undefined; // a torn lock file: its writer died while writing it
    }
    out.push({ key: o.key, lock });
  }
  return out;
}

export interface HeldLock {
  readonly info: LockInfo;
  /** Locks of dead processes this acquisition removed (their temporary files are theirs to clean). */
  readonly brokeDead: readonly LockInfo[];
  release(): Promise<void>;
}

function describe(lock: LockInfo): string {
  return `${lock.mode} lock of "${lock.command}" (pid ${lock.pid} on ${lock.host}, since ${lock.createdAt})`;
}

/**
 * Takes a lock. Conflicting locks of live holders fail with LOCKED (retryable); locks of processes
 * proven dead on this host are removed; locks from other hosts not refreshed for 30 minutes fail
 * with LOCK_STALE, naming `snapvisor repo unlock`, since only the user can know the holder is gone.
 */
export async function acquireLock(
  storage: Storage,
  mode: LockMode,
  options: { command: string; owner?: string; env?: LockEnv; where?: string },
): Promise<HeldLock> {
  const env = options.env ?? processLockEnv;
  const id = options.owner ?? newOwnerId(env.pid);
  const now = env.now().toISOString();
  const info: LockInfo = {
    id,
    mode,
    host: env.host,
    pid: env.pid,
    command: options.command,
    createdAt: now,
    heartbeatAt: now,
  };
  const key = `locks/${id}.json`;
  // Written new (the id is this holder's own) and visible to every other process once linked;
  // it need not survive a power cut, as its holder would not either, so its folder is not synced
  // now (replace() would), only with the holder's next flush.
  if (!(await storage.putIfAbsent(key, Buffer.from(JSON.stringify(info))))) {
    throw repoError("LOCKED", `Repository ${options.where ?? ""} already holds a lock named ${id}`, {
      details: { id },
    });
  }
  const brokeDead: LockInfo[] = [];
  try {
    for (const other of await listLocks(storage)) {
      if (other.key === key || !other.lock) continue;
      const state = lockState(other.lock, env);
      if (state === "dead") {
        await storage.delete(other.key);
        brokeDead.push(other.lock);
        continue;
      }
      if (!conflicts[mode].includes(other.lock.mode)) continue;
      if (state === "stale") {
        throw repoError(
          "LOCK_STALE",
          `Repository ${options.where ?? ""} has a stale ${describe(other.lock)}, not refreshed for over 30 minutes. ` +
            `If that process is gone, run "snapvisor repo unlock --repo ${options.where ?? "DIR"}"`,
          { details: { lock: other.lock } },
        );
      }
      throw repoError("LOCKED", `Repository ${options.where ?? ""} is busy: ${describe(other.lock)}`, {
        retryable: true,
        details: { lock: other.lock },
      });
    }
  } catch (err) {
    await storage.delete(key);
    throw err;
  }
  const timer = setInterval(() => {
    const beat = { ...info, heartbeatAt: env.now().toISOString() };
    storage.replace(key, Buffer.from(JSON.stringify(beat))).catch(() => {});
  }, HEARTBEAT_MS);
  timer.unref();
  return {
    info,
    brokeDead,
    async release() {
      clearInterval(timer);
      await storage.delete(key);
    },
  };
}

/**
 * Removes locks whose holders are gone (dead here, stale elsewhere), or every lock with `all`.
 * Returns what was removed.
 */
export async function breakLocks(
  storage: Storage,
  options: { all?: boolean; env?: LockEnv } = {},
): Promise<LockInfo[]> {
  const env = options.env ?? processLockEnv;
  const removed: LockInfo[] = [];
  for (const { key, lock } of await listLocks(storage)) {
    if (!lock || options.all || lockState(lock, env) !== "live") {
      await storage.delete(key);
      if (lock) removed.push(lock);
    }
  }
  return removed;
}
