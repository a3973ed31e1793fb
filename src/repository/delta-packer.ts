import { CHUNK_BLOB_OVERHEAD } from "./blob.js";
import { PACK_DATA, packOverhead, sealPackLayout } from "./delta.js";

export interface FullPack {
  /** The pack's plaintext in its first `length` bytes, with room to be sealed in place. */
  readonly lane: Buffer;
  readonly length: number;
  readonly entries: readonly { readonly slot: number; readonly base: Buffer }[];
  /** To be called once the pack's memory is no longer read (its write has ended). */
  readonly release: (lane: Buffer) => void;
}

/**
 * Gathers the deltas of one disk's incremental into packs of at most `capacity` bytes (delta.ts),
 * copying each delta straight to its place in the pack, and hands each full pack to `seal` (which
 * stores it and points its slots at it). Calls from concurrent lanes take turns, so a pack is sealed
 * whole before the next one fills. Pack buffers are reused once released: fresh memory costs a
 * page fault per page, which on a virtual machine that returns free memory to its host is dear.
 */
export class DeltaPacker {
  readonly #capacity: number;
  readonly #seal: (pack: FullPack) => Promise<void>;
  readonly #spare: Buffer[] = [];
  #buffer: Buffer | undefined;
  #used = PACK_DATA;
  #entries: { slot: number; length: number; base: Buffer }[] = [];
  #turn: Promise<void> = Promise.resolve();

  constructor(capacity: number, seal: (pack: FullPack) => Promise<void>) {
    this.#capacity = capacity;
    this.#seal = seal;
  }

  /** Copies `delta` (of `slot`, over `base`) into the current pack, sealing it first when full. */
  add(slot: number, delta: Buffer, base: Buffer): Promise<void> {
    return this.#take(async () => {
      if (packOverhead(1) + delta.length > this.#capacity)
        throw new RangeError(`a delta of ${delta.length} bytes does not fit a pack of ${this.#capacity}`);
      if (this.#used + delta.length + packOverhead(this.#entries.length + 1) - PACK_DATA > this.#capacity)
        await this.#flush();
      this.#buffer ??=
        this.#spare.pop() ?? Buffer.from(new ArrayBuffer(this.#capacity + CHUNK_BLOB_OVERHEAD));
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
    const lane = this.#buffer;
    if (!lane || this.#entries.length === 0) return;
    const length = sealPackLayout(lane, this.#used, this.#entries);
    const entries = this.#entries;
    this.#buffer = undefined;
    this.#entries = [];
    this.#used = PACK_DATA;
    await this.#seal({
      lane,
      length,
      entries,
      release: (back) => {
        if (back.length >= this.#capacity + CHUNK_BLOB_OVERHEAD) this.#spare.push(back);
      },
    });
  }

  #take(work: () => Promise<void>): Promise<void> {
    const run = this.#turn.then(work);
    this.#turn = run.catch(() => {});
    return run;
  }
}
