import { createHash, createHmac } from "node:crypto";

/**
 * A chunk's id: SHA-256 of its plaintext, or HMAC-SHA256 under the repository's id key when it is
 * encrypted, so ids leak no plaintext hashes. One definition for the main thread and the workers.
 */
export function chunkIdOf(idKey: Buffer | null, data: Uint8Array): Buffer {
  return idKey
    ? createHmac("sha256", idKey).update(data).digest()
    : createHash("sha256").update(data).digest();
}

const ZEROS = Buffer.alloc(64 * 1024);

/** True when every byte is zero (such chunks are stored as nothing). */
export function isAllZero(buf: Uint8Array): boolean {
  for (let off = 0; off < buf.length; off += ZEROS.length) {
    const end = Math.min(off + ZEROS.length, buf.length);
    if (Buffer.compare(buf.subarray(off, end), ZEROS.subarray(0, end - off)) !== 0) return false;
  }
  return true;
}
