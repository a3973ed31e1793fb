/**
 * The storage port under the repository: a flat key space of immutable objects ("chunks/ab12/<hex>",
 * "points/<machine>/<point>/manifest"). A local directory and an in-memory fake implement it and pass
 * one contract suite (test/repository/storage-contract.ts); an object store can follow.
 */
export interface StoredObject {
  readonly key: string;
  readonly size: number;
  /** Last write or touch, ms since the epoch; garbage collection's grace period reads it. */
  readonly mtimeMs: number;
}

/** An object's bytes: one buffer, or parts stored back to back. */
export type ObjectData = Uint8Array | readonly Uint8Array[];

export function partsOf(data: ObjectData): readonly Uint8Array[] {
  return data instanceof Uint8Array ? [data] : data;
}

export interface Storage {
  /** The object's bytes, or undefined when there is none. */
  get(key: string, signal?: AbortSignal): Promise<Buffer | undefined>;
  /**
   * Reads the object into the start of `target` and returns its length, or undefined when there is
   * none; STORAGE_IO when it is larger than `target`. Lets hot paths reuse one buffer per lane.
   */
  getInto(key: string, target: Buffer, signal?: AbortSignal): Promise<number | undefined>;
  /**
   * Writes `data` under `key` unless an object is already there; true when this call wrote it.
   * Atomic: readers see nothing or the whole object, and a concurrent writer of the same key loses
   * cleanly. Durable once `flush()` has returned.
   */
  putIfAbsent(key: string, data: ObjectData, signal?: AbortSignal): Promise<boolean>;
  /** Atomically replaces (or creates) a small mutable object: locks, verify state. */
  replace(key: string, data: ObjectData): Promise<void>;
  stat(key: string): Promise<StoredObject | undefined>;
  /** Sets the object's mtime to now; false when it does not exist. */
  touch(key: string): Promise<boolean>;
  /** Every object whose key starts with `prefix` (which ends at a "/"), in no particular order. */
  list(prefix: string, signal?: AbortSignal): AsyncIterable<StoredObject>;
  delete(key: string): Promise<boolean>;
  /**
   * Deletes the object only if its mtime is older than `cutoffMs`, atomically with respect to
   * `touch` and `putIfAbsent` of the same key: a writer that touched it in time keeps it.
   */
  deleteIfOlder(key: string, cutoffMs: number): Promise<boolean>;
  /** Durability barrier: every object written before the call survives a crash after it returns. */
  flush(): Promise<void>;
  /** Removes this writer's own temporary files (and those of writers named dead). */
  cleanTemporary(deadOwners?: readonly string[]): Promise<number>;
}
