/**
 * SSH transport to Windows OpenSSH: the host key is pinned by SHA-256 fingerprint, each call is an
 * `exec` of `powershell -NoProfile -NonInteractive -Command -` with the script line on stdin (no
 * cmd.exe quoting, no 8191-character command line), and disk files are read over SFTP.
 */
import { createHash } from "node:crypto";
import ssh2 from "ssh2";
import type { ClientChannel, SFTPWrapper } from "ssh2";
import type { ByteSource } from "../../src/domain/ports.js";
import { hypervError, throwIfAborted } from "./errors.js";
import { SftpByteSource, sftpPath } from "./sftp-source.js";
import type { PsOutput, PsTransport } from "./transport.js";

export interface SshTransportOptions {
  readonly host: string;
  readonly port?: number;
  readonly username: string;
  /** Password authentication, or (preferred) a private key. */
  readonly password?: string;
  /** OpenSSH/PEM private key text, and its passphrase when encrypted. */
  readonly privateKey?: string;
  readonly passphrase?: string;
  /** Pinned host key, "SHA256:<base64>" as `ssh-keygen -lf` prints it. Required: no trust on first use. */
  readonly hostKeyFingerprint: string;
  /** Milliseconds one call may take before its channel and connection are dropped. Default 120000. */
  readonly timeoutMs?: number;
  readonly readyTimeoutMs?: number;
}

export const POWERSHELL_COMMAND = "powershell -NoProfile -NonInteractive -Command -";

export function fingerprintOf(key: Buffer): string {
  return "SHA256:" + createHash("sha256").update(key).digest("base64").replace(/=+$/, "");
}

export class SshTransport implements PsTransport {
  readonly describe: string;
  readonly #options: SshTransportOptions;
  #client: Promise<ssh2.Client> | undefined;
  #sftp: Promise<SFTPWrapper> | undefined;

  constructor(options: SshTransportOptions) {
    if (!/^SHA256:[A-Za-z0-9+/]{43}$/.test(options.hostKeyFingerprint)) {
      throw hypervError(
        "HYPERV_CONFIG_INVALID",
        `SSH host key fingerprint must look like "SHA256:<43 base64 characters>", got "${options.hostKeyFingerprint}"`,
      );
    }
    this.#options = options;
    this.describe = `ssh://${options.host}:${options.port ?? 22}`;
  }

  #connect(): Promise<ssh2.Client> {
    this.#client ??= new Promise<ssh2.Client>((resolve, reject) => {
      const client = new ssh2.Client();
      let seen: string | undefined;
      client.once("ready", () => resolve(client));
      client.once("error", (err: Error & { level?: string }) => {
        this.#client = undefined;
        this.#sftp = undefined;
        if (seen !== undefined && seen !== this.#options.hostKeyFingerprint) {
          reject(
            hypervError(
              "HYPERV_HOST_KEY_MISMATCH",
              `Host key of ${this.describe} is ${seen}, expected ${this.#options.hostKeyFingerprint}`,
              { cause: err },
            ),
          );
        } else if (err.level === "client-authentication") {
          reject(
            hypervError(
              "HYPERV_AUTH_FAILED",
              `SSH authentication as "${this.#options.username}" to ${this.describe} was refused`,
              { cause: err },
            ),
          );
        } else {
          reject(
            hypervError("HYPERV_TRANSPORT", `SSH connection to ${this.describe} failed: ${err.message}`, {
              cause: err,
              retryable: true,
            }),
          );
        }
      });
      client.on("close", () => {
        this.#client = undefined;
        this.#sftp = undefined;
      });
      client.connect({
        host: this.#options.host,
        port: this.#options.port ?? 22,
        username: this.#options.username,
        ...(this.#options.password !== undefined ? { password: this.#options.password } : {}),
        ...(this.#options.privateKey !== undefined ? { privateKey: this.#options.privateKey } : {}),
        ...(this.#options.passphrase !== undefined ? { passphrase: this.#options.passphrase } : {}),
        readyTimeout: this.#options.readyTimeoutMs ?? 20_000,
        hostVerifier: (key: Buffer) => {
          seen = fingerprintOf(key);
          return seen === this.#options.hostKeyFingerprint;
        },
      });
    });
    return this.#client;
  }

  async #drop(): Promise<void> {
    const c = this.#client;
    this.#client = undefined;
    this.#sftp = undefined;
    if (c) (await c.catch(() => undefined))?.end();
  }

  async run(line: string, signal?: AbortSignal): Promise<PsOutput> {
    throwIfAborted(signal, "PowerShell call");
    const client = await this.#connect();
    const channel = await new Promise<ClientChannel>((resolve, reject) => {
      client.exec(POWERSHELL_COMMAND, (err, stream) => {
        if (err)
          reject(
            hypervError("HYPERV_TRANSPORT", `Cannot start PowerShell on ${this.describe}: ${err.message}`, {
              cause: err,
              retryable: true,
            }),
          );
        else resolve(stream);
      });
    });
    const timeoutMs = this.#options.timeoutMs ?? 120_000;
    return new Promise<PsOutput>((resolve, reject) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let settled = false;
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        fn();
      };
      const timer = setTimeout(() => {
        finish(() =>
          reject(
            hypervError(
              "HYPERV_TIMEOUT",
              `PowerShell on ${this.describe} did not answer within ${timeoutMs} ms; the connection was dropped`,
              { retryable: true },
            ),
          ),
        );
        channel.close();
        void this.#drop();
      }, timeoutMs);
      const onAbort = (): void => {
        finish(() =>
          reject(hypervError("HYPERV_ABORTED", "PowerShell call was aborted", { cause: signal?.reason })),
        );
        channel.close();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      channel.on("data", (d: Buffer) => out.push(d));
      channel.stderr.on("data", (d: Buffer) => err.push(d));
      channel.on("close", () =>
        finish(() =>
          resolve({
            stdout: Buffer.concat(out).toString("utf8"),
            stderr: Buffer.concat(err).toString("utf8"),
          }),
        ),
      );
      channel.end(line + "\n");
    });
  }

  async #sftpSession(): Promise<SFTPWrapper> {
    const client = await this.#connect();
    this.#sftp ??= new Promise<SFTPWrapper>((resolve, reject) => {
      client.sftp((err, sftp) => {
        if (err) {
          this.#sftp = undefined;
          reject(
            hypervError("HYPERV_TRANSPORT", `Cannot open SFTP on ${this.describe}: ${err.message}`, {
              cause: err,
              retryable: true,
            }),
          );
        } else resolve(sftp);
      });
    });
    return this.#sftp;
  }

  imagePath(windowsPath: string): string {
    return sftpPath(windowsPath);
  }

  async openImageFile(path: string, signal?: AbortSignal): Promise<ByteSource> {
    throwIfAborted(signal, `Opening ${path}`);
    return SftpByteSource.open(await this.#sftpSession(), path);
  }

  async close(): Promise<void> {
    await this.#drop();
  }
}
