/**
 * A ByteSource over SFTP (ssh2): positional reads of a host file, split into requests the server
 * accepts and issued a few at a time for throughput. Windows OpenSSH serves `C:\x` as `/C:/x`.
 */
import type { SFTPWrapper } from "ssh2";
import type { ByteSource } from "../../src/domain/ports.js";
import { hypervError, throwIfAborted } from "./errors.js";

const REQUEST = 32 * 1024;
const PARALLEL = 16;

export function sftpPath(windowsPath: string): string {
  const m = /^([A-Za-z]):\\(.*)$/.exec(windowsPath);
  if (!m?.[1]) throw hypervError("HYPERV_DISK_NOT_FOUND", `Not an absolute Windows path: "${windowsPath}"`);
  return `/${m[1].toUpperCase()}:/${(m[2] ?? "").replace(/\\/g, "/")}`;
}

export class SftpByteSource implements ByteSource {
  readonly size: number;
  readonly #sftp: SFTPWrapper;
  readonly #handle: Buffer;
  readonly #path: string;

  private constructor(sftp: SFTPWrapper, handle: Buffer, path: string, size: number) {
    this.#sftp = sftp;
    this.#handle = handle;
    this.#path = path;
    this.size = size;
  }

  static async open(sftp: SFTPWrapper, path: string): Promise<SftpByteSource> {
    const handle = await new Promise<Buffer>((resolve, reject) => {
      sftp.open(path, "r", (err, h) =>
        err
          ? reject(
              hypervError("HYPERV_DISK_NOT_FOUND", `Cannot open "${path}" over SFTP: ${err.message}`, {
                cause: err,
              }),
            )
          : resolve(h),
      );
    });
    const size = await new Promise<number>((resolve, reject) => {
      sftp.fstat(handle, (err, st) =>
        err
          ? reject(
              hypervError("HYPERV_TRANSPORT", `Cannot stat "${path}" over SFTP: ${err.message}`, {
                cause: err,
                retryable: true,
              }),
            )
          : resolve(st.size),
      );
    });
    return new SftpByteSource(sftp, handle, path, size);
  }

  #readPiece(target: Buffer, at: number, position: number, length: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#sftp.read(this.#handle, target, at, length, position, (err, bytesRead) => {
        // ssh2 reports EOF as an error with code 1 (SSH_FX_EOF): a short read, not a failure.
        if (err && (err as Error & { code?: number }).code !== 1) {
          reject(
            hypervError(
              "HYPERV_TRANSPORT",
              `SFTP read of "${this.#path}" at ${position} failed: ${err.message}`,
              { cause: err, retryable: true },
            ),
          );
        } else resolve(err ? 0 : bytesRead);
      });
    });
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    throwIfAborted(signal, `Reading "${this.#path}"`);
    const end = Math.min(this.size, offset + length);
    if (end <= offset) return new Uint8Array(0);
    const out = Buffer.alloc(end - offset);
    const pieces: Array<[number, number]> = [];
    for (let at = 0; at < out.length; at += REQUEST) pieces.push([at, Math.min(REQUEST, out.length - at)]);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < pieces.length) {
        const piece = pieces[next++];
        if (!piece) return;
        let [at, len] = piece;
        // A server may answer with fewer bytes than asked: continue until the piece is complete.
        while (len > 0) {
          const got = await this.#readPiece(out, at, offset + at, len);
          if (got === 0)
            throw hypervError(
              "HYPERV_TRANSPORT",
              `SFTP read of "${this.#path}" ended early at ${offset + at}`,
              { retryable: true },
            );
          at += got;
          len -= got;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, pieces.length) }, () => worker()));
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#sftp.close(this.#handle, () => resolve()));
  }
}
