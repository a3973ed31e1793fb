import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { RepoKeys } from "./keys.js";

/**
 * Worker threads that do the CPU work on chunks — SHA-256 (or HMAC) ids, the all-zero check, zstd
 * and AES-GCM — so backups, restores, verify and replication use every core while the main thread
 * keeps the I/O going. One pool per process, shared by every open repository: each repository
 * registers its scheme (keys and compression level) once. Idle workers do not keep the process
 * alive.
 */

export type Part = Uint8Array | { readonly at: number; readonly length: number };

export type WorkerRequest =
  | {
      op: "scheme";
      scheme: number;
      idKey: Uint8Array | null;
      dataKey: Uint8Array | null;
      level: number;
    }
  | { op: "seal"; seq: number; scheme: number; buf: ArrayBuffer; at: number; length: number }
  | { op: "open"; seq: number; scheme: number; hex: string; buf: ArrayBuffer; at: number; length: number };

export interface SealReply {
  seq: number;
  buf: ArrayBuffer;
  /** Null when the chunk is all zeros (stored as nothing). */
  id: Uint8Array | null;
  parts: Part[];
}

export type OpenReply = { seq: number; buf: ArrayBuffer } & ({ plain: Part } | { error: string });

interface FailureReply {
  seq: number;
  failure: string;
}

export interface SealedChunk {
  /** The chunk's id, or null when it is all zeros. */
  readonly id: Buffer | null;
  /** The blob to store, in order (empty for a zero chunk). */
  readonly parts: readonly Buffer[];
  /** The input's memory, given back: the caller's buffer for the next chunk. */
  readonly buffer: Buffer;
}

/** A chunk blob that is damaged, sealed under another key, or does not hash to its name. */
export class ChunkOpenError extends Error {
  override readonly name = "ChunkOpenError";
}

interface Lane {
  readonly worker: Worker;
  busy: number;
}

interface Waiter {
  readonly lane: Lane;
  resolve(reply: SealReply | OpenReply): void;
  reject(err: Error): void;
}

const WORKER_URL = new URL("./chunk-worker.js", import.meta.url);

export class ChunkWorkers {
  readonly #size: number;
  #lanes: Lane[] = [];
  readonly #waiting = new Map<number, Waiter>();
  readonly #schemes = new Map<string, Extract<WorkerRequest, { op: "scheme" }>>();
  #seq = 0;

  constructor(size = Math.max(1, availableParallelism())) {
    this.#size = size;
  }

  /** Registers keys and compression level once; the number names them in later calls. */
  scheme(keys: RepoKeys | null, level: number): number {
    const name = keys
      ? createHash("sha256").update(keys.idKey).update(keys.dataKey).update(String(level)).digest("hex")
      : `plain:${level}`;
    let msg = this.#schemes.get(name);
    if (msg === undefined) {
      msg = {
        op: "scheme",
        scheme: this.#schemes.size + 1,
        idKey: keys?.idKey ?? null,
        dataKey: keys?.dataKey ?? null,
        level,
      };
      this.#schemes.set(name, msg);
      for (const lane of this.#lanes) lane.worker.postMessage(msg);
    }
    return msg.scheme;
  }

  /**
   * Seals `input` as a chunk. With `owned`, the caller gives up `input`'s whole backing memory,
   * which travels to a worker and comes back as `buffer`; otherwise `input` is copied.
   */
  async seal(scheme: number, input: Buffer, owned = false): Promise<SealedChunk> {
    const { buf, at } = carry(input, owned);
    const reply = (await this.#call({
      op: "seal",
      seq: 0,
      scheme,
      buf,
      at,
      length: input.length,
    })) as SealReply;
    return {
      id: reply.id ? Buffer.from(reply.id.buffer, reply.id.byteOffset, reply.id.byteLength) : null,
      parts: reply.parts.map((p) => toBuffer(p, reply.buf)),
      buffer: Buffer.from(reply.buf),
    };
  }

  /** Opens a chunk blob stored under `hex` and checks its content hashes to `hex`. */
  async open(scheme: number, hex: string, blob: Buffer): Promise<Buffer> {
    const { buf, at } = carry(blob, true);
    const reply = (await this.#call({
      op: "open",
      seq: 0,
      scheme,
      hex,
      buf,
      at,
      length: blob.length,
    })) as OpenReply;
    if ("error" in reply) throw new ChunkOpenError(reply.error);
    return toBuffer(reply.plain, reply.buf);
  }

  #call(msg: WorkerRequest & { seq: number; buf: ArrayBuffer }): Promise<SealReply | OpenReply> {
    const lane = this.#pick();
    const seq = ++this.#seq;
    msg.seq = seq;
    return new Promise((resolve, reject) => {
      this.#waiting.set(seq, { lane, resolve, reject });
      if (lane.busy++ === 0) lane.worker.ref();
      lane.worker.postMessage(msg, [msg.buf]);
    });
  }

  #pick(): Lane {
    while (this.#lanes.length < this.#size) this.#lanes.push(this.#spawn());
    return this.#lanes.reduce((a, b) => (b.busy < a.busy ? b : a));
  }

  #spawn(): Lane {
    const worker = new Worker(WORKER_URL);
    const lane: Lane = { worker, busy: 0 };
    worker.on("message", (reply: SealReply | OpenReply | FailureReply) => {
      const waiter = this.#waiting.get(reply.seq);
      if (!waiter) return;
      this.#waiting.delete(reply.seq);
      if (--lane.busy === 0) worker.unref();
      if ("failure" in reply) waiter.reject(new Error(`chunk worker: ${reply.failure}`));
      else waiter.resolve(reply);
    });
    const fail = (err: Error): void => {
      this.#lanes = this.#lanes.filter((l) => l !== lane);
      for (const [seq, waiter] of this.#waiting) {
        if (waiter.lane !== lane) continue;
        this.#waiting.delete(seq);
        waiter.reject(new Error(`chunk worker stopped: ${err.message}`, { cause: err }));
      }
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`exit code ${code}`)));
    // After the listeners: adding a "message" listener refs the worker's port again, and a lane
    // that is never given a chunk (a small incremental) would then keep the process alive for ever.
    worker.unref();
    for (const msg of this.#schemes.values()) worker.postMessage(msg);
    return lane;
  }
}

/** The memory to send: the whole backing store when the caller owns it, else a copy. */
function carry(input: Buffer, owned: boolean): { buf: ArrayBuffer; at: number } {
  const backing = input.buffer;
  if (owned && backing instanceof ArrayBuffer && input.byteLength >= 4096) {
    return { buf: backing, at: input.byteOffset };
  }
  const copy = new ArrayBuffer(input.length);
  new Uint8Array(copy).set(input);
  return { buf: copy, at: 0 };
}

function toBuffer(part: Part, buf: ArrayBuffer): Buffer {
  return part instanceof Uint8Array
    ? Buffer.from(part.buffer, part.byteOffset, part.byteLength)
    : Buffer.from(buf, part.at, part.length);
}

let shared: ChunkWorkers | undefined;

/** The process's chunk workers, started on first use. */
export function chunkWorkers(): ChunkWorkers {
  shared ??= new ChunkWorkers();
  return shared;
}
