import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { Decoder, Encoder } from "./zstd.js";
import type { RepoKeys } from "./keys.js";

/**
 * Every object in the store is a blob:
 *
 *   magic "SVB1" | kind u8 | flags u8 | reserved u16      (8 bytes)
 *   [iv 12 | tag 16]          when flags & ENCRYPTED (AES-256-GCM; AAD = header + object name)
 *   [sha256(payload) 32]      when not encrypted and kind is not a chunk
 *   payload                   zstd frame when flags & COMPRESSED, else raw
 *
 * Unencrypted chunks carry no checksum of their own: their name is the SHA-256 of the plaintext, and
 * verify re-hashes it. The GCM tag covers the object name, so a blob moved to another name fails.
 */
export const BlobKind = { chunk: 1, index: 2, manifest: 3 } as const;
export type BlobKind = (typeof BlobKind)[keyof typeof BlobKind];

const MAGIC = Buffer.from("SVB1", "latin1");
const HEADER = 8;
const COMPRESSED = 1;
const ENCRYPTED = 2;
/** Store raw when zstd saves less than this fraction (random data, already-compressed guests). */
const MIN_SAVING = 0.03;
/**
 * Inputs at least this large are first judged by compressing a sample: SAMPLE_SLICES slices of
 * SAMPLE_SLICE bytes spread evenly over the input (1/16 of a 1 MiB chunk). zstd on incompressible
 * data runs at ~200 MB/s here, so trying every random chunk would cost more than hashing it; a sample
 * that saves too little sends the input out raw (borg's "auto" compression does the same with lz4).
 */
const SAMPLE_SLICE = 16 * 1024;
const SAMPLE_SLICES = 4;
const SAMPLE_FROM = 8 * SAMPLE_SLICE;

/** The most a chunk's blob can exceed its plaintext: header, IV and tag (buffers size lanes by it). */
export const CHUNK_BLOB_OVERHEAD = HEADER + 28;

export class BlobFormatError extends Error {
  override readonly name = "BlobFormatError";
}

export class BlobCodec {
  readonly #keys: RepoKeys | null;
  readonly #encoder: Encoder;
  readonly #decoder = new Decoder();

  constructor(keys: RepoKeys | null, level = 1) {
    this.#keys = keys;
    this.#encoder = new Encoder(level);
  }

  get encrypted(): boolean {
    return this.#keys !== null;
  }

  /** The blob as parts to be written in order (saves copying multi-MiB chunks into one buffer). */
  seal(kind: BlobKind, name: string, plain: Uint8Array): Promise<Buffer[]> {
    return settle(() => this.sealSync(kind, name, plain));
  }

  /**
   * `seal` on the calling thread: for the chunk workers (chunk-workers.ts), and for the small index
   * and manifest blobs. An unencrypted, uncompressed payload is a view of `plain`, not a copy.
   */
  sealSync(kind: BlobKind, name: string, plain: Uint8Array): Buffer[] {
    const input = Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength);
    let flags = 0;
    let payload = input;
    if (input.length > 64 && this.#worthCompressing(input)) {
      const packed = this.#encoder.encodeSync(input);
      if (packed.length < input.length * (1 - MIN_SAVING)) {
        payload = packed;
        flags |= COMPRESSED;
      }
    }
    const header = Buffer.alloc(HEADER);
    MAGIC.copy(header, 0);
    header[4] = kind;
    if (this.#keys) {
      header[5] = flags | ENCRYPTED;
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", this.#keys.dataKey, iv).setAAD(aad(header, name));
      const body = cipher.update(payload);
      const tail = cipher.final();
      return [Buffer.concat([header, iv, cipher.getAuthTag()]), body, tail];
    }
    header[5] = flags;
    if (kind === BlobKind.chunk) return [header, payload];
    return [Buffer.concat([header, createHash("sha256").update(payload).digest()]), payload];
  }

  #worthCompressing(input: Buffer): boolean {
    if (input.length < SAMPLE_FROM) return true;
    const sample = Buffer.allocUnsafe(SAMPLE_SLICE * SAMPLE_SLICES);
    const step = Math.floor((input.length - SAMPLE_SLICE) / (SAMPLE_SLICES - 1));
    for (let i = 0; i < SAMPLE_SLICES; i++)
      input.copy(sample, i * SAMPLE_SLICE, i * step, i * step + SAMPLE_SLICE);
    return this.#encoder.encodeSync(sample).length < sample.length * (1 - MIN_SAVING);
  }

  /** Returns the plaintext; throws BlobFormatError for anything damaged or sealed under another key. */
  open(kind: BlobKind, name: string, blob: Uint8Array): Promise<Buffer> {
    return settle(() => this.openSync(kind, name, blob));
  }

  /** `open` on the calling thread; an unencrypted, uncompressed payload is a view of `blob`. */
  openSync(kind: BlobKind, name: string, blob: Uint8Array): Buffer {
    const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
    if (buf.length < HEADER || !buf.subarray(0, 4).equals(MAGIC)) throw new BlobFormatError("bad magic");
    if (buf[4] !== kind) throw new BlobFormatError(`kind ${buf[4]} where ${kind} was expected`);
    const flags = buf[5] ?? 0;
    if ((flags & ~(COMPRESSED | ENCRYPTED)) !== 0 || buf[6] !== 0 || buf[7] !== 0) {
      throw new BlobFormatError(`unknown flags ${flags}`);
    }
    let payload: Buffer;
    if (flags & ENCRYPTED) {
      if (!this.#keys) throw new BlobFormatError("encrypted blob in an unencrypted repository");
      if (buf.length < HEADER + 28) throw new BlobFormatError("truncated");
      const decipher = createDecipheriv("aes-256-gcm", this.#keys.dataKey, buf.subarray(HEADER, HEADER + 12))
        .setAAD(aad(buf.subarray(0, HEADER), name))
        .setAuthTag(buf.subarray(HEADER + 12, HEADER + 28));
      try {
        payload = Buffer.concat([decipher.update(buf.subarray(HEADER + 28)), decipher.final()]);
      } catch {
        throw new BlobFormatError("authentication failed (damaged, or sealed under another key)");
      }
    } else {
      if (this.#keys) throw new BlobFormatError("unencrypted blob in an encrypted repository");
      if (kind === BlobKind.chunk) payload = buf.subarray(HEADER);
      else {
        if (buf.length < HEADER + 32) throw new BlobFormatError("truncated");
        payload = buf.subarray(HEADER + 32);
        const sum = createHash("sha256").update(payload).digest();
        if (!sum.equals(buf.subarray(HEADER, HEADER + 32))) throw new BlobFormatError("checksum mismatch");
      }
    }
    if (!(flags & COMPRESSED)) return payload;
    try {
      return this.#decoder.decodeSync(payload);
    } catch (err) {
      throw new BlobFormatError(`zstd: ${(err as Error).message}`);
    }
  }
}

async function settle<T>(fn: () => T): Promise<T> {
  await Promise.resolve();
  return fn();
}

function aad(header: Buffer, name: string): Buffer {
  return Buffer.concat([header, Buffer.from(name, "utf8")]);
}
