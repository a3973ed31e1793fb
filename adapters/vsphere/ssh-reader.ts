/**
 * Alternative data path: read datastore files over SSH to the ESXi shell (ssh2), with `stat` for
 * sizes and `dd` on block-aligned windows for ranges. The host key must match the configured
 * SHA-256 fingerprint (no trust on first use). Paths are single-quoted for the shell; the command
 * text is built by `ddCommand`/`catCommand` (pure) and checked for exact output length.
 */
import { createHash } from "node:crypto";
import { Client } from "ssh2";
import type { Logger } from "../../src/domain/ports.js";
import type { ResolvedSsh } from "./config.js";
import type { DatastorePath, ExtentFetcher } from "./disk-reader.js";
import { vsphereError } from "./errors.js";

export const VOLUMES_ROOT = "/vmfs/volumes";

/** Quotes one word for a POSIX shell (pure). */
export function shellQuote(word: string): string {
  if (word.includes("\0"))
    throw vsphereError("VSPHERE_INVALID_ARGUMENT", `Path ${JSON.stringify(word)} contains a NUL byte`);
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function volumePath(file: DatastorePath, root: string): string {
  if (file.path.split("/").includes("..") || file.datastore.includes("/"))
    throw vsphereError(
      "VSPHERE_INVALID_ARGUMENT",
      `Refusing datastore path [${file.datastore}] ${file.path}: it leaves the datastore`,
    );
  return `${root}/${file.datastore}/${file.path}`;
}

/** `dd` reading the 512-aligned window around [offset, offset+length), with the largest fitting block (pure). */
export function ddCommand(
  path: string,
  offset: number,
  length: number,
): { command: string; windowStart: number; windowLength: number } {
  const windowStart = Math.floor(offset / 512) * 512;
  const windowLength = Math.ceil((offset + length) / 512) * 512 - windowStart;
  let bs = 1024 * 1024;
  while (bs > 512 && (windowStart % bs !== 0 || windowLength % bs !== 0)) bs /= 2;
  return {
    command: `dd if=${shellQuote(path)} bs=${bs} skip=${windowStart / bs} count=${windowLength / bs} 2>/dev/null`,
    windowStart,
    windowLength,
  };
}

/** Size in bytes of one file (busybox and GNU stat agree on `-c %s`). */
export function statCommand(path: string): string {
  return `stat -c %s ${shellQuote(path)}`;
}

/** OpenSSH-style `SHA256:base64` (padding dropped) or hex -> comparable forms of one key (pure). */
export function hostKeyMatches(key: Buffer, expected: string): boolean {
  const digest = createHash("sha256").update(key).digest();
  const want = expected.replace(/^SHA256:/i, "").trim();
  return (
    want === digest.toString("base64").replace(/=+$/, "") ||
    want.replace(/:/g, "").toLowerCase() === digest.toString("hex")
  );
}

export interface SshFetcherOptions extends ResolvedSsh {
  readonly host: string;
  /** Where datastores are mounted; `/vmfs/volumes` on ESXi. */
  readonly volumesRoot?: string;
  readonly readyTimeoutMs?: number;
}

export class SshFetcher implements ExtentFetcher {
  readonly #conn: Client;
  readonly #root: string;
  readonly #host: string;

  private constructor(conn: Client, root: string, host: string) {
    this.#conn = conn;
    this.#root = root;
    this.#host = host;
  }

  static connect(o: SshFetcherOptions, logger: Logger): Promise<SshFetcher> {
    return new Promise((resolve, reject) => {
      const conn = new Client();
      let keyMismatch = false;
      conn.once("ready", () => {
        logger.info({ host: o.host }, "SSH reader connected");
        resolve(new SshFetcher(conn, o.volumesRoot ?? VOLUMES_ROOT, o.host));
      });
      conn.once("error", (err) => {
        reject(
          keyMismatch
            ? vsphereError(
                "VSPHERE_SSH_HOST_KEY_MISMATCH",
                `SSH host key of ${o.host} does not match reader.hostKeySha256`,
                { cause: err },
              )
            : vsphereError(
                "VSPHERE_SSH_FAILED",
                `SSH to ${o.host}:${o.port} as "${o.username}" failed: ${err.message}`,
                { cause: err, retryable: true },
              ),
        );
      });
      conn.connect({
        host: o.host,
        port: o.port,
        username: o.username,
        ...(o.password === undefined ? {} : { password: o.password }),
        ...(o.privateKey === undefined ? {} : { privateKey: o.privateKey }),
        readyTimeout: o.readyTimeoutMs ?? 20_000,
        hostVerifier: (key: Buffer) => {
          keyMismatch = !hostKeyMatches(key, o.hostKeySha256);
          return !keyMismatch;
        },
      });
    });
  }

  #exec(command: string, maxBytes: number, signal?: AbortSignal): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.#conn.exec(command, (err, stream) => {
        if (err !== undefined && err !== null) {
          reject(
            vsphereError("VSPHERE_SSH_FAILED", `SSH exec on ${this.#host} failed: ${err.message}`, {
              cause: err,
              retryable: true,
            }),
          );
          return;
        }
        const chunks: Buffer[] = [];
        const errs: Buffer[] = [];
        let size = 0;
        const onAbort = () => stream.close();
        signal?.addEventListener("abort", onAbort, { once: true });
        stream.on("data", (c: Buffer) => {
          size += c.length;
          if (size <= maxBytes) chunks.push(c);
        });
        stream.stderr.on("data", (c: Buffer) => errs.push(c));
        stream.on("close", (code: number | null) => {
          signal?.removeEventListener("abort", onAbort);
          if (signal?.aborted === true)
            reject(
              vsphereError("VSPHERE_ABORTED", `SSH read on ${this.#host} was aborted`, {
                cause: signal.reason,
              }),
            );
          else if (code !== 0) {
            reject(
              vsphereError(
                "VSPHERE_READ_FAILED",
                `"${command}" on ${this.#host} exited with ${code}: ${Buffer.concat(errs).toString("utf8").trim().slice(0, 300)}`,
                { details: { code } },
              ),
            );
          } else if (size > maxBytes)
            reject(
              vsphereError(
                "VSPHERE_READ_FAILED",
                `"${command}" on ${this.#host} wrote more than ${maxBytes} bytes`,
              ),
            );
          else resolve(Buffer.concat(chunks));
        });
      });
    });
  }

  async size(file: DatastorePath, signal?: AbortSignal): Promise<number> {
    const out = (await this.#exec(statCommand(volumePath(file, this.#root)), 64, signal))
      .toString("utf8")
      .trim();
    if (!/^\d{1,16}$/.test(out)) {
      throw vsphereError(
        "VSPHERE_READ_FAILED",
        `stat of [${file.datastore}] ${file.path} on ${this.#host} answered ${JSON.stringify(out)}`,
      );
    }
    return Number(out);
  }

  async readRange(
    file: DatastorePath,
    offset: number,
    length: number,
    signal?: AbortSignal,
  ): Promise<Buffer> {
    const dd = ddCommand(volumePath(file, this.#root), offset, length);
    const out = await this.#exec(dd.command, dd.windowLength, signal);
    // The window may run past the end of a small file (descriptors); the asked bytes must be there.
    const needed = offset - dd.windowStart + length;
    if (out.length < needed) {
      throw vsphereError(
        "VSPHERE_READ_FAILED",
        `dd of [${file.datastore}] ${file.path} at ${offset} returned ${out.length} bytes of its window, ${needed} needed`,
        { retryable: true },
      );
    }
    return out.subarray(offset - dd.windowStart, offset - dd.windowStart + length);
  }

  async close(): Promise<void> {
    this.#conn.end();
  }
}
