/**
 * Writes that go on after their caller moved on: a delta pack (delta-packer.ts) in memory of its own
 * is stored in the background while the lanes go on reading and sealing the next slots, instead of
 * every lane waiting for the pack's fsync. Bounded in count and bytes; `drain()` waits for all of
 * them and throws the first failure.
 */
export class WriteBehind {
  readonly #maxWrites: number;
  readonly #maxBytes: number;
  readonly #inFlight = new Set<Promise<void>>();
  #bytes = 0;
  #failure: { error: unknown } | undefined;

  constructor(maxWrites: number, maxBytes: number) {
    this.#maxWrites = Math.max(1, maxWrites);
    this.#maxBytes = maxBytes;
  }

  /** Starts `write` once there is room; resolves when it has started, not when it is done. */
  async add(bytes: number, write: () => Promise<void>): Promise<void> {
    while (
      this.#inFlight.size > 0 &&
      (this.#inFlight.size >= this.#maxWrites || this.#bytes + bytes > this.#maxBytes)
    ) {
      await Promise.race(this.#inFlight);
    }
    this.#throwIfFailed();
    this.#bytes += bytes;
    const running: Promise<void> = write()
      .catch((error: unknown) => {
        this.#failure ??= { error };
      })
      .finally(() => {
        this.#bytes -= bytes;
        this.#inFlight.delete(running);
      });
    this.#inFlight.add(running);
  }

  /** Waits for every write started; throws the first that failed. */
  async drain(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
    this.#throwIfFailed();
  }

  #throwIfFailed(): void {
    if (this.#failure) throw this.#failure.error;
  }
}
