/**
 * A disk of a recovery point as a DiskSource (random reads, allocation map from the index), so a
 * point can be exported to VMDK/VHDX or read like any other disk. Chunks are checked against their
 * ids by `getChunk`; the last chunks read are kept for the small sequential reads exporters make.
 */
import type { DiskSource, Extent } from "../domain/ports.js";
import { diskError } from "../disk/errors.js";
import { ExtentList } from "../disk/extents.js";
import type { DiskIndex } from "./index-format.js";
import { repoError } from "./errors.js";
import type { PointRef, Repository } from "./repository.js";
import { loadChecked } from "./restore.js";

const CACHED_CHUNKS = 4;

export async function openPointDisk(
  repo: Repository,
  ref: PointRef,
  diskKey: string,
  signal?: AbortSignal,
): Promise<DiskSource> {
  return new PointDisk(repo, ref, await loadChecked(repo, ref, diskKey, signal));
}

class PointDisk implements DiskSource {
  readonly capacity: number;
  readonly #repo: Repository;
  readonly #ref: PointRef;
  readonly #index: DiskIndex;
  readonly #cache = new Map<number, Promise<Buffer>>();

  constructor(repo: Repository, ref: PointRef, index: DiskIndex) {
    this.#repo = repo;
    this.#ref = ref;
    this.#index = index;
    this.capacity = index.capacity;
  }

  async read(target: Uint8Array, offset: number, signal?: AbortSignal): Promise<number> {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > this.capacity) {
      throw diskError(
        "DISK_OUT_OF_RANGE",
        `Read at ${offset} outside disk of point ${this.#ref.pointId} (${this.capacity} bytes)`,
        {
          ...this.#ref,
          offset,
        },
      );
    }
    const length = Math.min(target.length, this.capacity - offset);
    const size = this.#index.chunkSize;
    let done = 0;
    while (done < length) {
      const pos = offset + done;
      const slot = Math.floor(pos / size);
      const inSlot = pos - slot * size;
      const piece = Math.min(size - inSlot, length - done);
      const part = target.subarray(done, done + piece);
      if (this.#index.isZero(slot)) part.fill(0);
      else part.set((await this.#chunk(slot, signal)).subarray(inSlot, inSlot + piece));
      done += piece;
    }
    return length;
  }

  #chunk(slot: number, signal?: AbortSignal): Promise<Buffer> {
    const cached = this.#cache.get(slot);
    if (cached !== undefined) return cached;
    const pending = this.#repo.getSlot(this.#index, slot, signal).then((data) => {
      if (data.length !== this.#index.slotLength(slot)) {
        throw repoError(
          "CHUNK_CORRUPT",
          `Chunk of slot ${slot} of point ${this.#ref.pointId} holds ${data.length} bytes, not ${this.#index.slotLength(slot)}`,
        );
      }
      return data;
    });
    this.#cache.set(slot, pending);
    pending.catch(() => this.#cache.delete(slot));
    if (this.#cache.size > CACHED_CHUNKS) this.#cache.delete(this.#cache.keys().next().value as number);
    return pending;
  }

  async allocated(): Promise<readonly Extent[]> {
    const list = new ExtentList();
    for (let slot = 0; slot < this.#index.count; slot++) {
      if (!this.#index.isZero(slot)) list.add(slot * this.#index.chunkSize, this.#index.slotLength(slot));
    }
    return list.toArray();
  }

  async close(): Promise<void> {
    this.#cache.clear();
  }
}
