import { CHUNK_BLOB_OVERHEAD } from "./blob.js";
import { packHeaderLength, writePackHeader } from "./delta.js";

export interface FullPack {
  /** The pack's plaintext in its first `length` bytes, with room to be sealed in place (a lane). */
  readonly lane: Buffer;
  readonly length: number;
  readonly entries: readonly { readonly slot: number; readonly base: Buffer }[];
}

/**
 * Gathers the deltas of one disk's incremental into packs of at most `capacity` bytes (delta.ts),
 * handing each full pack to `seal` (which stores it and points its slots at it). Calls from
 * concurrent lanes take turns, so a pack is sealed whole before the next one fills.
 */
export class DeltaPacker {
  readonly #capacity: number;
  readonly #seal: (pack: FullPack) => Promise<void>;
  readonly #buffer: Buffer;
  #used = 0;
  #entries: { slot: number; length: number; base: Buffer }[] = [];
  #turn: Promise<void> = Promise.resolve();

  constructor(capacity: number, seal: (pack: FullPack) => Promise<void>) {
    this.#capacity = capacity;
    this.#seal = seal;
    this.#buffer = Buffer.allocUnsafe(capacity);
  }

  /** Copies `delta` (of `slot`, over `base`) into the current pack, sealing it first when full. */
  add(slot: number, delta: Buffer, base: Buffer): Promise<void> {
    return this.#take(async () => {
      if (packHeaderLength(1) + delta.length > this.#capacity)
        throw new RangeError(`a delta of ${delta.length} bytes does not fit a pack of ${this.#capacity}`);
      if (packHeaderLength(this.#entries.length + 1) + this.#used + delta.length > this.#capacity)
        await this.#flush();
      delta.copy(this.#buffer, this.#used);
      this.#used += delta.length;
      this.#entries.push({ slot, length: delta.length, base: Buffer.from(base) });
    });
  }

  /** Seals the last pack (if any delta is waiting). */
  finish(): Promise<void> {
    return this.#take(() => this.#flush());
  }

  async #flush(): Promise<void> {
    if (this.#entries.length === 0) return;
    const header = packHeaderLength(this.#entries.length);
    const length = header + this.#used;
    const lane = Buffer.from(new ArrayBuffer(length + CHUNK_BLOB_OVERHEAD));
    writePackHeader(lane, this.#entries);
    this.#buffer.copy(lane, header, 0, this.#used);
    const entries = this.#entries;
    this.#entries = [];
    this.#used = 0;
    await this.#seal({ lane, length, entries });
  }

  #take(work: () => Promise<void>): Promise<void> {
    const run = this.#turn.then(work);
    this.#turn = run.catch(() => {});
    return run;
  }
}
