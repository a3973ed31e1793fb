import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import type * as WorkerThreads from "node:worker_threads";
import type { Worker } from "node:worker_threads";
import { chunkScheme, runChunkOp, type ChunkOp, type ChunkScheme } from "./chunk-ops.js";
import { INLINE_BYTES, placeChunkWork, warmAhead } from "./chunk-placement.js";
import type { RepoKeys } from "./keys.js";

/**
 * Worker threads that do the CPU work on chunks — SHA-256 (or HMAC) ids, the all-zero check, zstd
 * and AES-GCM — so backups, restores, verify and replication use every core while the main thread
 * keeps the I/O going. One pool per process, shared by every open repository: each repository
 * registers its scheme (keys and compression level) once. Idle workers do not keep the process
 * alive. A small job never starts them: the main thread takes the chunks itself until it has done
 * its share, and goes on taking them until a worker is ready (chunk-placement.ts), doing exactly
 * what a worker does (chunk-ops.ts).
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
  /** The worker has loaded and said so; until then the main thread may take chunks itself. */
  ready: boolean;
  /** Settles when the worker is ready, or fails if it stops before. */
  readonly loaded: Promise<void>;
}

type Reply = SealReply | OpenReply;

interface Waiter {
  readonly lane: Lane;
  resolve(reply: Reply): void;
  reject(err: Error): void;
}

/** A call not yet placed: the main thread takes it at its next turn, unless a worker is ready. */
interface Queued {
  readonly msg: ChunkOp;
  readonly resolve: (reply: Reply) => void;
  readonly reject: (err: Error) => void;
}

const WORKER_URL = new URL("./chunk-worker.js", import.meta.url);

/**
 * node:worker_threads, loaded when the first worker starts: a small job starts none, and the
 * module costs 3-5 ms to load (docs/cli-startup.md).
 */
let threads: typeof WorkerThreads | undefined;
function workerThreads(): typeof WorkerThreads {
  threads ??= createRequire(import.meta.url)("node:worker_threads") as typeof WorkerThreads;
  return threads;
}

export interface ChunkWorkersOptions {
  /**
   * Bytes the main thread seals, opens and checks itself before the workers start (and it goes on
   * until one is ready); 0 sends every chunk to a worker. Default INLINE_BYTES.
   */
  readonly inlineBytes?: number;
}

export class ChunkWorkers {
  readonly #size: number;
  readonly #inlineBytes: number;
  #lanes: Lane[] = [];
  #started = false;
  readonly #waiting = new Map<number, Waiter>();
  readonly #schemes = new Map<string, Extract<WorkerRequest, { op: "scheme" }>>();
  /** Codecs of the main thread, made when it first takes a chunk of that scheme. */
  readonly #inline = new Map<number, ChunkScheme>();
  #inlineDone = 0;
  readonly #queue: Queued[] = [];
  #turnScheduled = false;
  #seq = 0;

  constructor(size = Math.max(1, availableParallelism()), options: ChunkWorkersOptions = {}) {
    this.#size = size;
    this.#inlineBytes = options.inlineBytes ?? INLINE_BYTES;
  }

  /** Bytes the main thread has taken itself (for tests and the benchmark). */
  get inlineDone(): number {
    return this.#inlineDone;
  }

  /** Whether the worker threads have been started. */
  get started(): boolean {
    return this.#started;
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

  #call(msg: ChunkOp): Promise<Reply> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ msg, resolve, reject });
      this.#place();
    });
  }

  /** Sends queued calls to workers while the placement says so; the rest wait for the main thread. */
  #place(): void {
    while (this.#queue.length > 0) {
      const next = this.#placementOf(this.#queue[0]!.msg);
      if (next.start) this.#start();
      if (next.run === "inline") {
        this.#scheduleTurn();
        return;
      }
      this.#post(this.#queue.shift()!);
    }
  }

  #placementOf(msg: ChunkOp) {
    return placeChunkWork({
      length: msg.length,
      inlineDone: this.#inlineDone,
      inlineBytes: this.#inlineBytes,
      started: this.#started,
      ready: this.#lanes.filter((l) => l.ready).length,
    });
  }

  /**
   * One call on the main thread per turn of the event loop, so that finished reads (which queue
   * more calls) and a worker's "ready" get in between.
   */
  #scheduleTurn(): void {
    if (this.#turnScheduled) return;
    this.#turnScheduled = true;
    setImmediate(() => {
      this.#turnScheduled = false;
      const head = this.#queue[0];
      if (head && this.#placementOf(head.msg).run === "inline") {
        this.#queue.shift();
        this.#runInline(head);
      }
      this.#place();
    });
  }

  #runInline(call: Queued): void {
    const { msg } = call;
    let scheme = this.#inline.get(msg.scheme);
    if (!scheme) {
      const registered = [...this.#schemes.values()].find((s) => s.scheme === msg.scheme);
      if (!registered) {
        call.reject(new Error(`unknown chunk scheme ${msg.scheme}`));
        return;
      }
      scheme = chunkScheme(registered);
      this.#inline.set(msg.scheme, scheme);
    }
    this.#inlineDone += msg.length;
    try {
      call.resolve(runChunkOp(scheme, msg));
    } catch (err) {
      call.reject(err as Error);
    }
  }

  #post(call: Queued): void {
    const lane = this.#pick();
    const seq = ++this.#seq;
    call.msg.seq = seq;
    this.#waiting.set(seq, { lane, resolve: call.resolve, reject: call.reject });
    if (lane.busy++ === 0) lane.worker.ref();
    lane.worker.postMessage(call.msg, call.msg.buf instanceof ArrayBuffer ? [call.msg.buf] : []);
  }

  /**
   * Starts the workers ahead of a job expected to process `expectedBytes` (see warmAhead), so that
   * their start (a module load each, 0.05-0.3 s on a busy machine) overlaps the caller's reading
   * of manifests and indexes. A small job, or one of unknown size, starts none here: the main
   * thread takes its first chunks, and the workers start once it has taken its share.
   * Idle workers do not keep the process alive.
   */
  warm(expectedBytes?: number): void {
    if (warmAhead(expectedBytes, this.#inlineBytes)) this.#start();
  }

  /**
   * Starts the workers and resolves once each has loaded; rejects if one stops before that (a
   * worker that cannot load its module would otherwise go unnoticed while the main thread works).
   */
  ready(): Promise<void> {
    this.#start();
    // Someone waits for the start: the workers keep the process alive until they answer.
    for (const lane of this.#lanes) if (!lane.ready) lane.worker.ref();
    return Promise.all(this.#lanes.map((l) => l.loaded)).then(() => undefined);
  }

  #start(): void {
    this.#started = true;
    while (this.#lanes.length < this.#size) this.#lanes.push(this.#spawn());
  }

  /** The least busy ready lane, or the least busy of all while none is ready yet. */
  #pick(): Lane {
    this.#start();
    const ready = this.#lanes.filter((l) => l.ready);
    return (ready.length > 0 ? ready : this.#lanes).reduce((a, b) => (b.busy < a.busy ? b : a));
  }

  #spawn(): Lane {
    // Node's own flags are inherited (profiling, loaders), except those that only make sense for
    // the main script: `--input-type` (for `node -e`) makes a worker refuse its file.
    const worker = new (workerThreads().Worker)(WORKER_URL, {
      execArgv: process.execArgv.filter((a) => !a.startsWith("--input-type")),
    });
    let loaded!: { resolve(): void; reject(err: Error): void };
    const lane: Lane = {
      worker,
      busy: 0,
      ready: false,
      loaded: new Promise((resolve, reject) => (loaded = { resolve, reject })),
    };
    // Nobody may be waiting for this lane's start; its failure is reported through `ready()`.
    lane.loaded.catch(() => {});
    worker.on("message", (reply: Reply | FailureReply | { ready: true }) => {
      if ("ready" in reply) {
        lane.ready = true;
        if (lane.busy === 0) worker.unref();
        loaded.resolve();
        this.#place();
        return;
      }
      const waiter = this.#waiting.get(reply.seq);
      if (!waiter) return;
      this.#waiting.delete(reply.seq);
      if (--lane.busy === 0) worker.unref();
      if ("failure" in reply) waiter.reject(new Error(`chunk worker: ${reply.failure}`));
      else waiter.resolve(reply);
    });
    const fail = (err: Error): void => {
      loaded.reject(new Error(`chunk worker stopped before it was ready: ${err.message}`, { cause: err }));
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
    // that is never given a chunk would then keep the process alive for ever.
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
