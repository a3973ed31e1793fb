import { PassThrough } from "node:stream";
import type { Extent } from "../../src/domain/ports.js";
import { MemoryStorage } from "../../src/repository/memory-storage.js";
import { Repository, type PointRef } from "../../src/repository/repository.js";
import { restoreToStream } from "../../src/repository/restore.js";
import type { ObjectData, Storage, StoredObject } from "../../src/repository/storage.js";
import { writePoint } from "../../src/repository/writer.js";
import { bufferSource, consistency } from "./helpers.js";

export const CS = 64 * 1024;

export async function memoryRepo(
  options: { passphrase?: string; like?: Repository } = {},
): Promise<Repository> {
  return Repository.init(new MemoryStorage(), {
    chunkSize: CS,
    ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
    ...(options.like ? { like: options.like.config } : {}),
  });
}

/** Writes a point of `machineId` from `data`: a full read, or only `changed` over the latest point. */
export async function backup(
  repo: Repository,
  machineId: string,
  data: Buffer,
  changed: readonly Extent[] | "all" = "all",
): Promise<PointRef> {
  const { ref } = await writePoint(repo, {
    machine: { id: machineId, name: machineId, hypervisor: "image" },
    disks: [{ key: "disk0", capacity: data.length, source: bufferSource(data), changed }],
    consistency,
  });
  return ref;
}

/** The restored disk, as bytes. */
export async function restored(repo: Repository, ref: PointRef, disk = "disk0"): Promise<Buffer> {
  const out = new PassThrough();
  const parts: Buffer[] = [];
  out.on("data", (c: Buffer) => parts.push(c));
  await restoreToStream(repo, ref, disk, out);
  return Buffer.concat(parts);
}

/** Storage that fails every write of a chunk after `okChunks` of them: a link cut mid-replication. */
export class CutStorage implements Storage {
  readonly inner: Storage;
  okChunks = Infinity;
  chunkWrites = 0;

  constructor(inner: Storage) {
    this.inner = inner;
  }

  async putIfAbsent(key: string, data: ObjectData, signal?: AbortSignal): Promise<boolean> {
    if (key.startsWith("chunks/")) {
      if (this.chunkWrites >= this.okChunks) throw new Error("link cut");
      this.chunkWrites++;
    }
    return this.inner.putIfAbsent(key, data, signal);
  }
  get(key: string, signal?: AbortSignal): Promise<Buffer | undefined> {
    return this.inner.get(key, signal);
  }
  getInto(key: string, target: Buffer, signal?: AbortSignal): Promise<number | undefined> {
    return this.inner.getInto(key, target, signal);
  }
  replace(key: string, data: ObjectData): Promise<void> {
    return this.inner.replace(key, data);
  }
  stat(key: string): Promise<StoredObject | undefined> {
    return this.inner.stat(key);
  }
  touch(key: string): Promise<boolean> {
    return this.inner.touch(key);
  }
  list(prefix: string, signal?: AbortSignal): AsyncIterable<StoredObject> {
    return this.inner.list(prefix, signal);
  }
  delete(key: string): Promise<boolean> {
    return this.inner.delete(key);
  }
  deleteIfOlder(key: string, cutoffMs: number): Promise<boolean> {
    return this.inner.deleteIfOlder(key, cutoffMs);
  }
  flush(): Promise<void> {
    return this.inner.flush();
  }
  cleanTemporary(deadOwners?: readonly string[]): Promise<number> {
    return this.inner.cleanTemporary(deadOwners);
  }
}
