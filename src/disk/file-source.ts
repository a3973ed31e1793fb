/**
 * Local files as byte sources (positional reads through a FileHandle) and as random-access files for
 * the writers. The file size is taken once at open: disk images under a snapshot do not grow.
 */
import { open, type FileHandle } from "node:fs/promises";
import type { ByteSource, Extent } from "../domain/ports.js";
import { diskError, throwIfAborted } from "./errors.js";
import { mapFileData } from "./file-map.js";

/** Opens `path` read-only as a ByteSource. */
export async function openFileSource(path: string, signal?: AbortSignal): Promise<ByteSource> {
  throwIfAborted(signal, `Opening ${path}`);
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (err) {
    throw diskError("DISK_IO", `Cannot open "${path}": ${(err as Error).message}`, { path }, err);
  }
  try {
    const { size } = await handle.stat();
    return new FileSource(path, handle, size);
  } catch (err) {
    await handle.close();
    throw diskError("DISK_IO", `Cannot stat "${path}": ${(err as Error).message}`, { path }, err);
  }
}

class FileSource implements ByteSource {
  readonly #path: string;
  readonly #handle: FileHandle;
  readonly size: number;

  constructor(path: string, handle: FileHandle, size: number) {
    this.#path = path;
    this.#handle = handle;
    this.size = size;
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    this.#check(offset, length, signal);
    const wanted = Math.max(0, Math.min(length, this.size - offset));
    const out = new Uint8Array(wanted);
    return readFully(this.#handle, out, offset, this.#path);
  }

  async readInto(target: Uint8Array, offset: number, signal?: AbortSignal): Promise<number> {
    this.#check(offset, target.length, signal);
    const wanted = Math.max(0, Math.min(target.length, this.size - offset));
    return (await readFully(this.#handle, target.subarray(0, wanted), offset, this.#path)).length;
  }

  #check(offset: number, length: number, signal?: AbortSignal): void {
    throwIfAborted(signal, `Reading "${this.#path}"`);
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw diskError(
        "DISK_OUT_OF_RANGE",
        `Invalid read of ${length} bytes at ${offset} on "${this.#path}"`,
        {
          path: this.#path,
          offset,
          length,
        },
      );
    }
  }

  /** The file's data extents as the file system maps them (file-map.ts); undefined when unknown. */
  dataExtents(signal?: AbortSignal): Promise<readonly Extent[] | undefined> {
    return mapFileData(this.#handle, this.size, signal);
  }

  async close(): Promise<void> {
    await this.#handle.close();
  }
}

async function readFully(
  handle: FileHandle,
  out: Uint8Array,
  offset: number,
  path: string,
): Promise<Uint8Array> {
  let done = 0;
  try {
    while (done < out.length) {
      const { bytesRead } = await handle.read(out, done, out.length - done, offset + done);
      if (bytesRead === 0) return out.subarray(0, done);
      done += bytesRead;
    }
  } catch (err) {
    throw diskError(
      "DISK_IO",
      `Cannot read "${path}" at ${offset}: ${(err as Error).message}`,
      { path, offset },
      err,
    );
  }
  return out;
}

/** A local file opened for reading and writing, as the image writers use it. */
export class RandomAccessFile {
  readonly path: string;
  readonly #handle: FileHandle;
  #size: number;

  private constructor(path: string, handle: FileHandle, size: number) {
    this.path = path;
    this.#handle = handle;
    this.#size = size;
  }

  /** `create` fails when the file exists ("wx"); otherwise the file must exist ("r+"). */
  static async open(path: string, mode: "create" | "update"): Promise<RandomAccessFile> {
    let handle: FileHandle;
    try {
      handle = await open(path, mode === "create" ? "wx+" : "r+");
    } catch (err) {
      throw diskError(
        "DISK_IO",
        `Cannot open "${path}" for writing: ${(err as Error).message}`,
        { path },
        err,
      );
    }
    const { size } = await handle.stat();
    return new RandomAccessFile(path, handle, size);
  }

  get size(): number {
    return this.#size;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(Math.max(0, Math.min(length, this.#size - offset)));
    const got = await readFully(this.#handle, out, offset, this.path);
    if (got.length === length) return got;
    const padded = new Uint8Array(length);
    padded.set(got);
    return padded;
  }

  async write(data: Uint8Array, offset: number): Promise<void> {
    try {
      let done = 0;
      while (done < data.length) {
        const { bytesWritten } = await this.#handle.write(data, done, data.length - done, offset + done);
        done += bytesWritten;
      }
    } catch (err) {
      throw diskError(
        "DISK_IO",
        `Cannot write "${this.path}" at ${offset}: ${(err as Error).message}`,
        {
          path: this.path,
          offset,
        },
        err,
      );
    }
    this.#size = Math.max(this.#size, offset + data.length);
  }

  /** Sets the file length; growing leaves a hole that reads as zeros. */
  async truncate(length: number): Promise<void> {
    await this.#handle.truncate(length);
    this.#size = length;
  }

  async sync(): Promise<void> {
    await this.#handle.sync();
  }

  async close(): Promise<void> {
    await this.#handle.close();
  }
}
