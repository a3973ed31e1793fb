import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { parentPort } from "node:worker_threads";
import { BlobCodec, BlobFormatError, BlobKind } from "./blob.js";
import { chunkIdOf, isAllZero } from "./chunk-id.js";
import type { OpenReply, Part, SealReply, WorkerRequest } from "./chunk-workers.js";

/**
 * A chunk worker (see chunk-workers.ts): hashes, compresses and seals chunks for writing, and opens
 * and checks them for reading, off the main thread, on the caller's lane in place.
 */
const schemes = new Map<number, { codec: BlobCodec; idKey: Buffer | null }>();

/**
 * zstd's and the cipher's outputs are native memory V8 hardly sees, so a worker would collect them
 * only after tens of MiB: a young-generation collection every few MiB processed keeps each
 * worker's footprint at a few MiB (peak RSS of a 1 GiB restore: 325 -> 246 MiB).
 */
setFlagsFromString("--expose-gc");
const collect = runInNewContext("gc") as (options: { type: "minor" }) => void;
const COLLECT_EVERY = 8 * 1024 * 1024;
let sinceCollect = 0;

type Memory = ArrayBuffer | SharedArrayBuffer;

/**
 * The result moved to the lane's start, back to back, when it fits the lane's room; at most one
 * part may already lie in the lane (the input itself, raw): parts are placed last to first, so
 * that one moves (memmove) before anything lands over it.
 */
function placed(parts: readonly Buffer[], buf: Memory, at: number, room: number): Part[] {
  const inLane = parts.filter((p) => p.buffer === buf).length;
  const total = parts.reduce((n, p) => n + p.length, 0);
  if (total > room || inLane > 1) {
    // No room: ranges of the lane stay where they are, the rest is cloned out of native memory.
    return parts.map((p) => (p.buffer === buf ? { at: p.byteOffset, length: p.length } : new Uint8Array(p)));
  }
  const lane = Buffer.from(buf, at, room);
  let end = total;
  for (let i = parts.length - 1; i >= 0; i--) {
    const p = parts[i]!;
    end -= p.length;
    if (p.buffer === buf) lane.copyWithin(end, p.byteOffset - at, p.byteOffset - at + p.length);
    else p.copy(lane, end);
  }
  return [{ at, length: total }];
}

function handle(msg: WorkerRequest): SealReply | OpenReply | undefined {
  if (msg.op === "scheme") {
    const idKey = msg.idKey ? Buffer.from(msg.idKey) : null;
    const keys = msg.dataKey && idKey ? { dataKey: Buffer.from(msg.dataKey), idKey } : null;
    schemes.set(msg.scheme, { codec: new BlobCodec(keys, msg.level), idKey });
    return undefined;
  }
  const scheme = schemes.get(msg.scheme);
  if (!scheme) throw new Error(`unknown chunk scheme ${msg.scheme}`);
  const view = Buffer.from(msg.buf, msg.at, msg.length);
  if (msg.op === "seal") {
    if (isAllZero(view)) return { seq: msg.seq, buf: msg.buf, id: null, parts: [] };
    const id = chunkIdOf(scheme.idKey, view);
    const parts = scheme.codec.sealSync(BlobKind.chunk, id.toString("hex"), view);
    return {
      seq: msg.seq,
      buf: msg.buf,
      id: new Uint8Array(id),
      parts: placed(parts, msg.buf, msg.at, msg.room),
    };
  }
  try {
    const plain = scheme.codec.openSync(BlobKind.chunk, msg.hex, view);
    if (chunkIdOf(scheme.idKey, plain).toString("hex") !== msg.hex) {
      return { seq: msg.seq, buf: msg.buf, error: "its content does not hash to its id" };
    }
    if (msg.op === "check") return { seq: msg.seq, buf: msg.buf, checked: true };
    return { seq: msg.seq, buf: msg.buf, plain: placed([plain], msg.buf, msg.at, msg.room)[0]! };
  } catch (err) {
    if (err instanceof BlobFormatError) return { seq: msg.seq, buf: msg.buf, error: err.message };
    throw err;
  }
}

parentPort?.on("message", (msg: WorkerRequest) => {
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
});
