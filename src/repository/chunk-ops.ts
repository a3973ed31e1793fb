import { BlobCodec, BlobFormatError, BlobKind } from "./blob.js";
import { chunkIdOf, isAllZero } from "./chunk-id.js";
import type { OpenReply, Part, SealReply, WorkerRequest } from "./chunk-workers.js";

/**
 * The work on one chunk (seal, open, check) on a lane, in place: what a chunk worker does for each
 * message, and what the main thread does itself for a small job (chunk-workers.ts). One definition,
 * so a chunk sealed inline is byte for byte what a worker would have made of it.
 */
export interface ChunkScheme {
  readonly codec: BlobCodec;
  readonly idKey: Buffer | null;
}

type Memory = ArrayBuffer | SharedArrayBuffer;
export type ChunkOp = Exclude<WorkerRequest, { op: "scheme" }>;

export function chunkScheme(msg: Extract<WorkerRequest, { op: "scheme" }>): ChunkScheme {
  const idKey = msg.idKey ? Buffer.from(msg.idKey) : null;
  const keys = msg.dataKey && idKey ? { dataKey: Buffer.from(msg.dataKey), idKey } : null;
  return { codec: new BlobCodec(keys, msg.level), idKey };
}

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

/**
 * Runs one operation on its lane. A blob that does not open (damaged, another key, wrong content)
 * is an answer (`error`), not an exception; anything thrown is a fault of the worker itself.
 */
export function runChunkOp(scheme: ChunkScheme, msg: ChunkOp): SealReply | OpenReply {
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
