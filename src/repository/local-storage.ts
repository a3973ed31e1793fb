import { randomBytes } from "node:crypto";
import { constants as fsc } from "node:fs";
import * as fs from "node:fs/promises";
import { dirname, join, sep } from "node:path";
import { DirectIo } from "./direct-io.js";
import { repoError } from "./errors.js";
import { newOwnerId } from "./owner.js";
import { PAGE, pageAligned } from "./slab.js";
import { partsOf, type ObjectData, type Storage, type StoredObject } from "./storage.js";

/**
 * How writes are made durable before `flush()` returns (Proxmox Backup Server's `sync-level`):
 * - `file` (default): every object is fsynced as it is written (on libuv's pool, in parallel), and
 *   each directory that received a name at `flush()`;
 * - `filesystem`: objects are written without fsync and `flush()` syncs the repository's file system
 *   once (`syncfs(2)` through coreutils' `sync -f`). Fewer journal commits, but it also flushes
 *   whatever else is dirty on that file system: measured slower here (2 GiB full backup 8.2 s vs
 *   6.3 s) when the same file system held freshly written data, as it does beside running VMs.
 */
export type Durability = "filesystem" | "file";

/**
 * Storage in a local directory. Objects are written to `tmp/<owner>/`, then hard-linked to their
 * final name (link fails with EEXIST, which makes put-if-absent atomic without overwriting a
 * finished object) and the temporary name is unlinked. `flush()` makes everything written before it
 * durable, so a committed manifest never names a chunk a power cut could take back.
 */
export class LocalStorage implements Storage {
  readonly root: string;
  readonly #owner: string;
  readonly #madeDirs = new Set<string>();
  readonly #dirtyDirs = new Set<string>();
  readonly #durability: Durability;
  readonly #direct: DirectIo;

  /** `directIo: false` keeps every object in the page cache (see direct-io.ts for the default). */
  constructor(root: string, options: { owner?: string; durability?: Durability; directIo?: boolean } = {}) {
    this.root = root;
    this.#owner = options.owner ?? newOwnerId();
    this.#durability = options.durability ?? "file";
    this.#direct = new DirectIo(options.directIo ?? true);
  }

  /** Whether objects still go through direct I/O (false once the file system refused it). */
  get directIo(): boolean {
    return this.#direct.enabled;
  }

  #path(key: string): string {
    if (
      key.length === 0 ||
      key.startsWith("/") ||
      key.split("/").some((s) => s === "" || s === "." || s === "..")
    ) {
      throw repoError("INVALID_ID", `Invalid storage key ${JSON.stringify(key)}`);
    }
    return join(this.root, ...key.split("/"));
  }

  async #mkdir(dir: string): Promise<void> {
    if (this.#madeDirs.has(dir)) return;
    await fs.mkdir(dir, { recursive: true });
    this.#madeDirs.add(dir);
  }

  async #writeTemp(data: ObjectData, sync = this.#durability === "file"): Promise<string> {
    const dir = join(this.root, "tmp", this.#owner);
    await this.#mkdir(dir);
    const tmp = join(dir, randomBytes(8).toString("hex"));
    const parts = partsOf(data);
    if (parts.length === 1 && pageAligned(parts[0]!) && parts[0]!.length >= PAGE) {
      if (await this.#writeDirect(tmp, parts[0]!, sync)) return tmp;
    }
    const fh = await fs.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
    try {
      await fh.writev(partsOf(data) as Uint8Array[]);
      if (sync) await fh.sync();
    } catch (err) {
      await fh.close().catch(() => {});
      await fs.rm(tmp, { force: true });
      throw err;
    }
    await fh.close();
    return tmp;
  }

  /**
   * Writes a page-aligned object's whole pages with O_DIRECT and its last partial page buffered,
   * then one fsync for both (file data and size); false when direct I/O is refused here.
   */
  async #writeDirect(tmp: string, data: Uint8Array, sync: boolean): Promise<boolean> {
    const direct = await this.#direct.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
    if (!direct) {
      // Some file systems create the file before they refuse the flag.
      await fs.rm(tmp, { force: true });
      return false;
    }
    let buffered: fs.FileHandle | undefined;
    try {
      const done = await this.#direct.writePages(direct, data, 0);
      buffered = await fs.open(tmp, fsc.O_WRONLY);
      for (let at = done; at < data.length;) {
        at += (await buffered.write(data, at, data.length - at, at)).bytesWritten;
      }
      if (sync) await buffered.sync();
    } catch (err) {
      await buffered?.close().catch(() => {});
      await direct.close().catch(() => {});
      await fs.rm(tmp, { force: true });
      throw err;
    }
    await buffered.close();
    await direct.close();
    return true;
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      return await fs.readFile(this.#path(key));
    } catch (err) {
      if (errno(err) === "ENOENT") return undefined;
      throw ioError(err, "read", key);
    }
  }

  async getInto(key: string, target: Buffer): Promise<number | undefined> {
    const path = this.#path(key);
    try {
      // Page-aligned targets (lanes) are read with O_DIRECT; anything else, or a refusal, buffered.
      const direct = pageAligned(target) ? await this.#direct.open(path, fsc.O_RDONLY) : undefined;
      if (direct) {
        try {
          const size = await sizeWithin(direct, key, target);
          if (await this.#direct.readFile(direct, target, size)) return size;
        } finally {
          await direct.close();
        }
      }
      const fh = await fs.open(path, "r");
      try {
        const size = await sizeWithin(fh, key, target);
        for (let done = 0; done < size;) {
          const { bytesRead } = await fh.read(target, done, size - done, done);
          if (bytesRead === 0) throw new Error(`file ended at ${done} of ${size} bytes`);
          done += bytesRead;
        }
        return size;
      } finally {
        await fh.close();
      }
    } catch (err) {
      if (errno(err) === "ENOENT") return undefined;
      throw ioError(err, "read", key);
    }
  }

  async putIfAbsent(key: string, data: ObjectData): Promise<boolean> {
    const path = this.#path(key);
    try {
      const tmp = await this.#writeTemp(data);
      try {
        await this.#mkdir(dirname(path));
        await fs.link(tmp, path);
        this.#dirtyDirs.add(dirname(path));
        return true;
      } catch (err) {
        if (errno(err) === "EEXIST") return false;
        throw err;
      } finally {
        await fs.rm(tmp, { force: true });
      }
    } catch (err) {
      throw ioError(err, "write", key);
    }
  }

  async replace(key: string, data: ObjectData): Promise<void> {
    const path = this.#path(key);
    try {
      const tmp = await this.#writeTemp(data, true);
      await this.#mkdir(dirname(path));
      await fs.rename(tmp, path);
      await syncDir(dirname(path));
    } catch (err) {
      throw ioError(err, "write", key);
    }
  }

  async stat(key: string): Promise<StoredObject | undefined> {
    try {
      const st = await fs.stat(this.#path(key));
      return { key, size: st.size, mtimeMs: st.mtimeMs };
    } catch (err) {
      if (errno(err) === "ENOENT") return undefined;
      throw ioError(err, "stat", key);
    }
  }

  async touch(key: string): Promise<boolean> {
    const now = new Date();
    try {
      await fs.utimes(this.#path(key), now, now);
      return true;
    } catch (err) {
      if (errno(err) === "ENOENT") return false;
      throw ioError(err, "touch", key);
    }
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    if (!prefix.endsWith("/")) throw repoError("INVALID_ID", `List prefix must end with "/": ${prefix}`);
    yield* walk(this.#path(prefix.slice(0, -1)), prefix);
  }

  async delete(key: string): Promise<boolean> {
    try {
      await fs.unlink(this.#path(key));
      return true;
    } catch (err) {
      if (errno(err) === "ENOENT") return false;
      throw ioError(err, "delete", key);
    }
  }

  /**
   * Renames the object aside first: a `touch` after that fails (the writer then writes the chunk
   * anew), and one before it shows in the mtime read after the rename, which puts the object back.
   */
  async deleteIfOlder(key: string, cutoffMs: number): Promise<boolean> {
    const path = this.#path(key);
    const dir = join(this.root, "tmp", this.#owner);
    await this.#mkdir(dir);
    const aside = join(dir, `gc-${randomBytes(8).toString("hex")}`);
    try {
      await fs.rename(path, aside);
    } catch (err) {
      if (errno(err) === "ENOENT") return false;
      throw ioError(err, "delete", key);
    }
    const st = await fs.stat(aside);
    if (st.mtimeMs >= cutoffMs) {
      // Touched meanwhile: restore without overwriting a copy a writer may have re-created.
      await fs.link(aside, path).catch((err: unknown) => {
        if (errno(err) !== "EEXIST") throw ioError(err, "restore", key);
      });
      await fs.unlink(aside);
      return false;
    }
    await fs.unlink(aside);
    this.#dirtyDirs.add(dirname(path));
    return true;
  }

  async flush(): Promise<void> {
    const dirs = [...this.#dirtyDirs];
    this.#dirtyDirs.clear();
    if (dirs.length === 0) return;
    try {
      if (this.#durability === "filesystem") await syncFileSystem(this.root);
      else await Promise.all(dirs.map((d) => syncDir(d)));
    } catch (err) {
      throw ioError(err, "sync", dirs[0] ?? this.root);
    }
  }

  async cleanTemporary(deadOwners: readonly string[] = []): Promise<number> {
    let removed = 0;
    for (const owner of [this.#owner, ...deadOwners]) {
      if (!/^[A-Za-z0-9_-]+$/.test(owner)) continue;
      const dir = join(this.root, "tmp", owner);
      const names = await fs.readdir(dir).catch(() => [] as string[]);
      removed += names.length;
      await fs.rm(dir, { recursive: true, force: true });
      this.#madeDirs.delete(dir);
    }
    return removed;
  }
}

async function* walk(dir: string, prefix: string): AsyncIterable<StoredObject> {
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (errno(err) === "ENOENT") return;
    throw ioError(err, "list", prefix);
  }
  for (const e of entries) {
    const full = join(dir, e.name);
    if (e.isDirectory()) yield* walk(full, `${prefix}${e.name}/`);
    else if (e.isFile()) {
      const st = await fs.stat(full).catch(() => undefined);
      if (st) yield { key: `${prefix}${e.name}`, size: st.size, mtimeMs: st.mtimeMs };
    }
  }
}

/**
 * syncfs(2) of the file system holding `path` (Node has no binding for it; coreutils does).
 * `node:child_process` is loaded here, not at the top: every command that opens a repository
 * loads this module, and few of them sync this way (4-11 ms of start-up, docs/cli-startup.md).
 */
async function syncFileSystem(path: string): Promise<void> {
  const { execFile } = await import("node:child_process");
  await new Promise<void>((resolve, reject) => {
    execFile("sync", ["-f", path], (err) =>
      err ? reject(new Error(`sync -f failed: ${err.message}`, { cause: err })) : resolve(),
    );
  });
}

async function syncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The object's size, refused (STORAGE_IO) when it does not fit `target`. */
async function sizeWithin(fh: fs.FileHandle, key: string, target: Buffer): Promise<number> {
  const { size } = await fh.stat();
  if (size > target.length) {
    throw repoError("STORAGE_IO", `Object ${key} is larger than the ${target.length} bytes expected`);
  }
  return size;
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

function ioError(err: unknown, op: string, key: string) {
  if (err instanceof Error && err.name === "SnapvisorError") return err;
  const code = errno(err);
  if (code === "ENOSPC" || code === "EDQUOT") {
    return repoError("NO_SPACE", `No space left on the repository's device while writing ${key}`, {
      cause: err,
      details: { key },
    });
  }
  return repoError("STORAGE_IO", `Cannot ${op} ${key.split("/").join(sep)}: ${code ?? String(err)}`, {
    cause: err,
    retryable: code === "EAGAIN" || code === "EBUSY",
    details: { key, errno: code },
  });
}
