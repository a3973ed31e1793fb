import { repoError } from "./errors.js";
import { partsOf, type ObjectData, type Storage, type StoredObject } from "./storage.js";

/**
 * In-memory Storage for tests and dry runs. It keeps the same contract as LocalStorage, including
 * durability: objects written since the last `flush()` are lost by `crash()`. `quotaBytes` makes
 * writes past it fail with NO_SPACE, as a full disk would.
 */
export class MemoryStorage implements Storage {
  readonly #objects = new Map<string, { data: Buffer; mtimeMs: number; durable: boolean }>();
  readonly #now: () => number;
  quotaBytes = Infinity;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  #check(key: string): void {
    if (
      key.length === 0 ||
      key.startsWith("/") ||
      key.split("/").some((s) => s === "" || s === "." || s === "..")
    ) {
      throw repoError("INVALID_ID", `Invalid storage key ${JSON.stringify(key)}`);
    }
  }

  #used(): number {
    let n = 0;
    for (const o of this.#objects.values()) n += o.data.length;
    return n;
  }

  async get(key: string): Promise<Buffer | undefined> {
    this.#check(key);
    const o = this.#objects.get(key);
    return o ? Buffer.from(o.data) : undefined;
  }

  async getInto(key: string, target: Buffer): Promise<number | undefined> {
    this.#check(key);
    const o = this.#objects.get(key);
    if (!o) return undefined;
    if (o.data.length > target.length) {
      throw repoError(
        "STORAGE_IO",
        `Object ${key} holds ${o.data.length} bytes, more than the ${target.length} expected`,
      );
    }
    return o.data.copy(target);
  }

  async putIfAbsent(key: string, input: ObjectData): Promise<boolean> {
    const data = Buffer.concat(partsOf(input));
    this.#check(key);
    if (this.#objects.has(key)) return false;
    if (this.#used() + data.byteLength > this.quotaBytes) {
      throw repoError("NO_SPACE", `No space left on the repository's device while writing ${key}`, {
        details: { key },
      });
    }
    this.#objects.set(key, { data: Buffer.from(data), mtimeMs: this.#now(), durable: false });
    return true;
  }

  async replace(key: string, input: ObjectData): Promise<void> {
    const data = Buffer.concat(partsOf(input));
    this.#check(key);
    this.#objects.set(key, { data: Buffer.from(data), mtimeMs: this.#now(), durable: true });
  }

  async stat(key: string): Promise<StoredObject | undefined> {
    this.#check(key);
    const o = this.#objects.get(key);
    return o ? { key, size: o.data.length, mtimeMs: o.mtimeMs } : undefined;
  }

  async touch(key: string): Promise<boolean> {
    this.#check(key);
    const o = this.#objects.get(key);
    if (!o) return false;
    o.mtimeMs = this.#now();
    return true;
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    if (!prefix.endsWith("/")) throw repoError("INVALID_ID", `List prefix must end with "/": ${prefix}`);
    for (const [key, o] of [...this.#objects]) {
      if (key.startsWith(prefix)) yield { key, size: o.data.length, mtimeMs: o.mtimeMs };
    }
  }

  async delete(key: string): Promise<boolean> {
    this.#check(key);
    return this.#objects.delete(key);
  }

  async deleteIfOlder(key: string, cutoffMs: number): Promise<boolean> {
    this.#check(key);
    const o = this.#objects.get(key);
    if (!o || o.mtimeMs >= cutoffMs) return false;
    return this.#objects.delete(key);
  }

  async flush(): Promise<void> {
    for (const o of this.#objects.values()) o.durable = true;
  }

  async cleanTemporary(): Promise<number> {
    return 0;
  }

  /** Simulates a power cut: what was not flushed is gone. */
  crash(): void {
    for (const [key, o] of [...this.#objects]) if (!o.durable) this.#objects.delete(key);
  }

  /** Test access: overwrite an object's bytes in place (bit rot, a bad disk). */
  corrupt(key: string, mutate: (data: Buffer) => Buffer): void {
    const o = this.#objects.get(key);
    if (!o) throw new Error(`no object ${key}`);
    o.data = mutate(o.data);
  }
}
