/**
 * Local transport: one long-lived PowerShell process through node-powershell, one call at a time.
 * Calls are one line each (node-powershell frames them with random delimiters on stdout/stderr).
 * stderr between the delimiters (progress records, warnings) does not fail a call: the result is
 * read from stdout. A timeout or a dead process recycles the shell.
 */
import { join } from "node:path";
import { PowerShell } from "node-powershell";
import { openFileSource } from "../../src/disk/file-source.js";
import type { ByteSource } from "../../src/domain/ports.js";
import { hypervError, throwIfAborted } from "./errors.js";
import type { PsOutput, PsTransport } from "./transport.js";

export interface LocalTransportOptions {
  /** The PowerShell executable: "powershell" on Windows hosts, or the simulator's wrapper. */
  readonly executable: string;
  /** Milliseconds one call may take before the shell is recycled. Default 120000. */
  readonly timeoutMs?: number;
  /**
   * Where host paths are on this machine. Unset on a Windows host (paths are used as they are);
   * set for the simulator or a mount: `C:\x\y.vhdx` -> `<filesRoot>/C/x/y.vhdx`.
   */
  readonly filesRoot?: string;
}

export class LocalTransport implements PsTransport {
  readonly describe: string;
  readonly #options: LocalTransportOptions;
  #shell: PowerShell | undefined;
  /** Settles when every call issued so far has finished (see run()). */
  #tail: Promise<void> = Promise.resolve();

  constructor(options: LocalTransportOptions) {
    this.#options = options;
    this.describe = `local:${options.executable}`;
  }

  #open(): PowerShell {
    this.#shell ??= new PowerShell({
      executable: this.#options.executable,
      executableOptions: { "-NoProfile": true, "-NonInteractive": true },
      invocationTimeout: this.#options.timeoutMs ?? 120_000,
      throwOnInvocationError: false,
    });
    return this.#shell;
  }

  async #recycle(): Promise<void> {
    const shell = this.#shell;
    this.#shell = undefined;
    await shell?.dispose().catch(() => undefined);
  }

  async run(line: string, signal?: AbortSignal): Promise<PsOutput> {
    throwIfAborted(signal, "PowerShell call");
    if (line.includes("\n") || line.includes("\r")) {
      throw hypervError(
        "HYPERV_CONFIG_INVALID",
        "A PowerShell call must be one line (-Command - runs input line by line)",
      );
    }
    // node-powershell queues calls itself, but a recycle (an abort, a timeout) clears its queue
    // without settling the calls waiting in it: their callers (other VMs of the job, removing their
    // checkpoints) would wait forever. So calls wait their turn here and reach the shell one at a
    // time; a call aborted while waiting leaves the line without running.
    const previous = this.#tail;
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    this.#tail = previous.then(() => mine);
    try {
      await turn(previous, signal);
      return await this.#invoke(line, signal);
    } finally {
      release();
    }
  }

  async #invoke(line: string, signal: AbortSignal | undefined): Promise<PsOutput> {
    const shell = this.#open();
    let aborted = false;
    const onAbort = (): void => {
      aborted = true;
      void this.#recycle();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const r = await shell.invoke(line);
      if (aborted) throw hypervError("HYPERV_ABORTED", "PowerShell call was aborted");
      // node-powershell sets stdout only when the closing delimiter arrived; no stdout = timed out.
      if (r.stdout === undefined) {
        await this.#recycle();
        throw hypervError(
          "HYPERV_TIMEOUT",
          `PowerShell (${this.describe}) did not answer within ${this.#options.timeoutMs ?? 120_000} ms; the shell was restarted`,
          { retryable: true },
        );
      }
      return { stdout: r.stdout.toString("utf8"), stderr: r.stderr?.toString("utf8") ?? "" };
    } catch (err) {
      if (
        err instanceof Error &&
        "code" in err &&
        typeof err.code === "string" &&
        err.code.startsWith("HYPERV_")
      )
        throw err;
      await this.#recycle();
      throw hypervError(
        "HYPERV_TRANSPORT",
        `PowerShell (${this.describe}) failed: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err, retryable: true },
      );
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  imagePath(windowsPath: string): string {
    const root = this.#options.filesRoot;
    if (root === undefined) return windowsPath;
    const m = /^([A-Za-z]):\\(.*)$/.exec(windowsPath);
    if (!m?.[1]) throw hypervError("HYPERV_DISK_NOT_FOUND", `Not an absolute Windows path: "${windowsPath}"`);
    const parts = (m[2] ?? "").split("\\").filter((p) => p !== "");
    if (parts.some((p) => p === "." || p === ".."))
      throw hypervError("HYPERV_DISK_NOT_FOUND", `Path "${windowsPath}" leaves its volume`);
    return join(root, m[1].toUpperCase(), ...parts);
  }

  openImageFile(path: string, signal?: AbortSignal): Promise<ByteSource> {
    return openFileSource(path, signal);
  }

  async close(): Promise<void> {
    await this.#recycle();
  }
}

/** Waits for `previous` to settle, or rejects with HYPERV_ABORTED when `signal` aborts first. */
function turn(previous: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return previous;
  throwIfAborted(signal, "PowerShell call");
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void =>
      reject(hypervError("HYPERV_ABORTED", "PowerShell call was aborted", { cause: signal.reason }));
    signal.addEventListener("abort", onAbort, { once: true });
    void previous.then(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    });
  });
}
