import { parentPort } from "node:worker_threads";
import { BlobCodec, BlobFormatError, BlobKind } from "./blob.js";
import { chunkIdOf, isAllZero } from "./chunk-id.js";
import type { OpenReply, Part, SealReply, WorkerRequest } from "./chunk-workers.js";

/**
 * A chunk worker (see chunk-workers.ts): hashes, compresses and seals chunks for writing, and opens
 * and checks them for reading, off the main thread. The input's memory travels here and back by
 * transfer; a payload stored raw goes back as a range of it rather than a copy.
 */
const schemes = new Map<number, { codec: BlobCodec; idKey: Buffer | null }>();

function partsOf(parts: readonly Buffer[], input: ArrayBuffer): Part[] {
  // A small view is copied out of its (pooled) backing store: cloning the view would clone all of it.
  return parts.map((p) =>
    p.buffer === input ? { at: p.byteOffset, length: p.length } : p.length < 4096 ? new Uint8Array(p) : p,
  );
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
    return { seq: msg.seq, buf: msg.buf, id: new Uint8Array(id), parts: partsOf(parts, msg.buf) };
  }
  try {
    const plain = scheme.codec.openSync(BlobKind.chunk, msg.hex, view);
    if (chunkIdOf(scheme.idKey, plain).toString("hex") !== msg.hex) {
      return { seq: msg.seq, buf: msg.buf, error: "its content does not hash to its id" };
    }
    return { seq: msg.seq, buf: msg.buf, plain: partsOf([plain], msg.buf)[0]! };
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
  if (reply) parentPort?.postMessage(reply, [reply.buf]);
});
