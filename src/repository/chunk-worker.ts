import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { parentPort } from "node:worker_threads";
import { chunkScheme, runChunkOp, type ChunkScheme } from "./chunk-ops.js";
import type { OpenReply, SealReply, WorkerRequest } from "./chunk-workers.js";

/**
 * A chunk worker (see chunk-workers.ts): hashes, compresses and seals chunks for writing, and opens
 * and checks them for reading, off the main thread, on the caller's lane in place (chunk-ops.ts).
 */
const schemes = new Map<number, ChunkScheme>();

/**
 * zstd's and the cipher's outputs are native memory V8 hardly sees, so a worker would collect them
 * only after tens of MiB: a young-generation collection every few MiB processed keeps each
 * worker's footprint at a few MiB (peak RSS of a 1 GiB restore: 325 -> 246 MiB).
 */
setFlagsFromString("--expose-gc");
const collect = runInNewContext("gc") as (options: { type: "minor" }) => void;
const COLLECT_EVERY = 8 * 1024 * 1024;
let sinceCollect = 0;

function handle(msg: WorkerRequest): SealReply | OpenReply | undefined {
  if (msg.op === "scheme") {
    schemes.set(msg.scheme, chunkScheme(msg));
    return undefined;
  }
  const scheme = schemes.get(msg.scheme);
  if (!scheme) throw new Error(`unknown chunk scheme ${msg.scheme}`);
  return runChunkOp(scheme, msg);
}

/**
 * One request per turn of the event loop: Node frees zstd's output buffers from immediates, and a
 * worker that always found the next request waiting never got there, so a restore's workers held
 * ~60 MiB of dead chunks each at their peak (2 GiB restore, 4 MiB chunks: 166-355 MiB peak RSS
 * before, 158-186 after; docs/restore-performance.md).
 */
const queue: WorkerRequest[] = [];
let draining = false;

parentPort?.on("message", (msg: WorkerRequest) => {
  queue.push(msg);
  if (!draining) {
    draining = true;
    setImmediate(drain);
  }
});

function drain(): void {
  const msg = queue.shift();
  if (msg) handleOne(msg);
  if (queue.length > 0) setImmediate(drain);
  else draining = false;
}

function handleOne(msg: WorkerRequest): void {
  let reply: SealReply | OpenReply | undefined;
  try {
    reply = handle(msg);
  } catch (err) {
    const seq = msg.op === "scheme" ? -1 : msg.seq;
    parentPort?.postMessage({ seq, failure: (err as Error).message });
    return;
  }
  if (!reply) return;
  parentPort?.postMessage(reply, reply.buf instanceof ArrayBuffer ? [reply.buf] : []);
  sinceCollect += msg.op === "scheme" ? 0 : msg.length;
  if (sinceCollect >= COLLECT_EVERY) {
    sinceCollect = 0;
    collect({ type: "minor" });
  }
}

// Loaded and listening: from now on this worker takes chunks (until then the main thread may).
parentPort?.postMessage({ ready: true });
