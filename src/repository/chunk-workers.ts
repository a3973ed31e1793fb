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
 *
 * Hot paths hand over a lane (slab.ts): shared memory the worker works on in place, or an ordinary
 * buffer whose memory travels there and back by transfer. The result is placed at the lane's start
 * whenever it fits the lane, so neither thread allocates per chunk and the lane stays page-aligned
 * for direct I/O.
 */

type Memory = ArrayBuffer | SharedArrayBuffer;
export type Part = Uint8Array | { readonly at: number; readonly length: number };

interface Span {
  buf: Memory;
  /** Where the input starts, and the bytes usable from there for the result. */
  at: number;
  length: number;
  room: number;
}

export type WorkerRequest =
  | {
      op: "scheme";
      scheme: number;
      idKey: Uint8Array | null;
      dataKey: Uint8Array | null;
      level: number;
    }
  | ({ op: "seal"; seq: number; scheme: number } & Span)
  | ({ op: "open" | "check"; seq: number; scheme: number; hex: string } & Span);

export interface SealReply {
  seq: number;
  buf: Memory;
  /** Null when the chunk is all zeros (stored as nothing). */
  id: Uint8Array | null;
  parts: Part[];
}

/** `open` answers the plaintext; `check` only that the blob opens and hashes to its name. */
export type OpenReply = { seq: number; buf: Memory } & (
  { plain: Part } | { checked: true } | { error: string }
);

interface FailureReply {
  seq: number;
  failure: string;
}

export interface SealedChunk {
  /** The chunk's id, or null when it is all zeros. */
  readonly id: Buffer | null;
  /** The blob to store, in order (empty for a zero chunk); usually one range of `lane`. */
  readonly parts: readonly Buffer[];
  /** The lane, given back: not to be reused before the parts are written. */
  readonly lane: Buffer;
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

  /** Seals a copy of `input` as a chunk. */
  async seal(scheme: number, input: Buffer): Promise<SealedChunk> {
    return this.sealIn(scheme, copyOf(input), input.length);
  }

  /**
   * Seals the first `length` bytes of `lane` (which the call takes over until it settles) as a
   * chunk; the blob usually comes back as one range at the lane's start.
   */
  async sealIn(scheme: number, lane: Buffer, length: number): Promise<SealedChunk> {
    const reply = (await this.#call({ op: "seal", seq: 0, scheme, ...span(lane, length) })) as SealReply;
    return {
      id: reply.id ? Buffer.from(reply.id.buffer, reply.id.byteOffset, reply.id.byteLength) : null,
      parts: reply.parts.map((p) => toBuffer(p, reply.buf)),
      lane: laneOf(reply.buf, lane),
    };
  }

  /** Opens a copy of a chunk blob stored under `hex` and checks its plaintext hashes to `hex`. */
  async open(scheme: number, hex: string, blob: Buffer): Promise<Buffer> {
    return (await this.openIn(scheme, hex, copyOf(blob, 1), blob.length)).plain;
  }

  /**
   * `open` of the blob in the first `length` bytes of `lane` (taken over until the call settles):
   * the plaintext comes back at the lane's start when it fits, which lanes sized for a chunk plus
   * CHUNK_BLOB_OVERHEAD always do.
   */
  async openIn(
    scheme: number,
    hex: string,
    lane: Buffer,
    length: number,
  ): Promise<{ plain: Buffer; lane: Buffer }> {
    const reply = (await this.#call({ op: "open", seq: 0, scheme, hex, ...span(lane, length) })) as OpenReply;
    if ("error" in reply) throw new ChunkOpenError(reply.error);
    if (!("plain" in reply)) throw new Error("chunk worker answered an open without the plaintext");
    return { plain: toBuffer(reply.plain, reply.buf), lane: laneOf(reply.buf, lane) };
  }

  /**
   * Checks, without changing it, that the blob in the first `length` bytes of `lane` opens with the
   * scheme's keys and hashes to `hex` (a blob arriving from elsewhere, stored as it is afterwards).
   */
  async checkIn(scheme: number, hex: string, lane: Buffer, length: number): Promise<Buffer> {
    const reply = (await this.#call({
      op: "check",
      seq: 0,
      scheme,
      hex,
      ...span(lane, length),
    })) as OpenReply;
    if ("error" in reply) throw new ChunkOpenError(reply.error);
    return laneOf(reply.buf, lane);
  }

  #call(msg: Extract<WorkerRequest, { seq: number }>): Promise<SealReply | OpenReply> {
    const lane = this.#pick();
    const seq = ++this.#seq;
    msg.seq = seq;
    return new Promise((resolve, reject) => {
      this.#waiting.set(seq, { lane, resolve, reject });
      if (lane.busy++ === 0) lane.worker.ref();
      lane.worker.postMessage(msg, msg.buf instanceof ArrayBuffer ? [msg.buf] : []);
    });
  }

  /**
   * Starts the workers now, so that their start (a module load each, 0.1-0.3 s on a busy machine)
   * overlaps the caller's reading of manifests and indexes instead of delaying the first chunk.
   * Idle workers do not keep the process alive.
   */
  warm(): void {
    while (this.#lanes.length < this.#size) this.#lanes.push(this.#spawn());
  }

  #pick(): Lane {
    this.warm();
    return this.#lanes.reduce((a, b) => (b.busy < a.busy ? b : a));
  }

  #spawn(): Lane {
    // Node's own flags are inherited (profiling, loaders), except those that only make sense for
    // the main script: `--input-type` (for `node -e`) makes a worker refuse its file.
    const worker = new Worker(WORKER_URL, {
      execArgv: process.execArgv.filter((a) => !a.startsWith("--input-type")),
    });
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

/** A lane as it travels: shared memory as is, an ordinary buffer's whole memory by transfer. */
function span(lane: Buffer, length: number): Span {
  if (length > lane.length) throw new RangeError(`${length} bytes do not fit a lane of ${lane.length}`);
  return { buf: lane.buffer, at: lane.byteOffset, length, room: lane.length };
}

/** The lane again, over the memory that came back (the same object when it is shared). */
function laneOf(buf: Memory, lane: Buffer): Buffer {
  return buf === lane.buffer ? lane : Buffer.from(buf, lane.byteOffset, lane.length);
}

/** A lane of its own holding a copy of `input`, with `extra` bytes of room per input byte. */
function copyOf(input: Buffer, extra = 0): Buffer {
  const lane = Buffer.from(new ArrayBuffer(input.length + Math.ceil(input.length * extra) + 64));
  input.copy(lane);
  return lane;
}

function toBuffer(part: Part, buf: Memory): Buffer {
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
