/** At most `limit` concurrent tasks per key (checkpoints per CSV). */
export class KeyedLimiter {
  readonly #limit: number;
  readonly #active = new Map<string, number>();
  readonly #waiting = new Map<string, Array<() => void>>();

  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const k = key.toLowerCase();
    if ((this.#active.get(k) ?? 0) >= this.#limit) {
      await new Promise<void>((resolve) => this.#waiting.set(k, [...(this.#waiting.get(k) ?? []), resolve]));
    }
    this.#active.set(k, (this.#active.get(k) ?? 0) + 1);
    try {
      return await task();
    } finally {
      this.#active.set(k, (this.#active.get(k) ?? 1) - 1);
      const next = this.#waiting.get(k)?.shift();
      next?.();
    }
  }
}
