import type { DiskSource, Extent } from "../domain/ports.js";
import { repoError } from "./errors.js";
import type { DiskIndex } from "./index-format.js";
import type { PointRef, Repository } from "./repository.js";
import { missingChunks } from "./restore.js";

/**
 * A disk of a recovery point as a DiskSource (for export to VMDK/VHDX, or any reader of disks):
 * reads are served from the chunks the index names, zero slots read as zeros and are left out of
 * `allocated()`. Reading is sequential-friendly: the chunks after the one asked for are fetched
 * ahead, and a few decoded chunks are kept.
 */
export class PointDiskSource implements DiskSource {
  readonly capacity: number;
  readonly #repo: Repository;
  readonly #index: DiskIndex;
  readonly #ahead: number;
  readonly #cache = new Map<number, Promise<Buffer>>();

  private constructor(repo: Repository, index: DiskIndex, ahead: number) {
    this.#repo = repo;
    this.#index = index;
    this.capacity = index.capacity;
    this.#ahead = ahead;
  }

  /** Opens a disk of a point; an orphaned point (chunks missing) is refused with POINT_ORPHANED. */
  static async open(
    repo: Repository,
    ref: PointRef,
    diskKey: string,
    options: { readAhead?: number; signal?: AbortSignal } = {},
  ): Promise<PointDiskSource> {
    const manifest = await repo.readManifest(ref);
    const index = await repo.readIndex(manifest, diskKey);
    const missing = await missingChunks(repo, index, options.signal);
    if (missing.length > 0) {
      throw repoError(
        "POINT_ORPHANED",
        `Point ${ref.pointId} of machine ${ref.machineId} is orphaned: ${missing.length} of its chunks are not in this repository (first: ${missing[0]}). ` +
          `Supply them by consuming a seed drive ("snapvisor seed consume") or replicating from a repository that has them, then export again`,
        { details: { ...ref, missing: missing.length, sample: missing.slice(0, 10) } },
      );
    }
    return new PointDiskSource(repo, index, options.readAhead ?? 4);
  }

  async read(target: Uint8Array, offset: number, signal?: AbortSignal): Promise<number> {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > this.capacity) {
      throw repoError("USAGE", `Read at ${offset} is outside the disk (capacity ${this.capacity})`);
    }
    const length = Math.min(target.length, this.capacity - offset);
    const cs = this.#index.chunkSize;
    let done = 0;
    while (done < length) {
      signal?.throwIfAborted();
      const at = offset + done;
      const slot = Math.floor(at / cs);
      const within = at - slot * cs;
      const n = Math.min(length - done, this.#index.slotLength(slot) - within);
      const out = target.subarray(done, done + n);
      if (this.#index.isZero(slot)) out.fill(0);
      else {
        const data = await this.#chunk(slot, signal);
        out.set(data.subarray(within, within + n));
      }
      done += n;
    }
    return length;
  }

  #chunk(slot: number, signal?: AbortSignal): Promise<Buffer> {
    for (const s of this.#cache.keys()) if (s < slot) this.#cache.delete(s);
    for (let s = slot; s < Math.min(this.#index.count, slot + 1 + this.#ahead); s++) {
      if (this.#index.isZero(s) || this.#cache.has(s)) continue;
      const fetch = this.#repo.getChunk(this.#index.id(s), signal);
      fetch.catch(() => undefined); // observed when read; fetches ahead may be dropped unread
      this.#cache.set(s, fetch);
    }
    return this.#cache.get(slot)!;
  }

  /** The non-zero slots, merged into extents. */
  async allocated(): Promise<readonly Extent[]> {
    const out: Extent[] = [];
    const cs = this.#index.chunkSize;
    for (let s = 0; s < this.#index.count; s++) {
      if (this.#index.isZero(s)) continue;
      const start = s * cs;
      const length = this.#index.slotLength(s);
      const last = out.at(-1);
      if (last && last.start + last.length === start)
        out[out.length - 1] = { start: last.start, length: last.length + length };
      else out.push({ start, length });
    }
    return out;
  }

  async close(): Promise<void> {
    this.#cache.clear();
  }
}
