/**
 * HTTPS to one vCenter/ESXi endpoint: keep-alive connections, TLS policy, session cookies, timeouts
 * and AbortSignal. Moves bytes only; no XML here.
 *
 * TLS: `verify` uses the system CAs (or `ca` PEM); `pinned` accepts exactly the certificate whose
 * SHA-256 (or SHA-1) fingerprint is configured, checked before the first request byte is written (the socket
 * is handed to HTTP only after the check); `insecure` skips verification and is only reachable
 * when the user asked for it (config.ts warns).
 */
import https from "node:https";
import tls from "node:tls";
import type { IncomingHttpHeaders } from "node:http";
import type { Duplex } from "node:stream";
import { vsphereError } from "../errors.js";

export type TlsPolicy =
  | { readonly mode: "verify"; readonly ca?: string | undefined }
  /** Hex fingerprint: 64 digits = SHA-256 (preferred), 40 = SHA-1 (what older vSphere UIs show). */
  | { readonly mode: "pinned"; readonly fingerprint: string }
  | { readonly mode: "insecure" };

export interface HttpRequest {
  readonly method: "GET" | "POST" | "PUT";
  /** Path and query, e.g. `/sdk` or `/folder/vm/disk-flat.vmdk?dcPath=DC0&dsName=ds1`. */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
  readonly signal?: AbortSignal | undefined;
  /** Answers larger than this are refused (protects memory from a hostile or broken peer). */
  readonly maxBytes?: number;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface TransportOptions {
  readonly tls: TlsPolicy;
  readonly timeoutMs: number;
  readonly maxSockets?: number;
}

/** Normalises "AB:CD:..." / "abcd..." fingerprints to lower-case hex without separators. */
export function normalizeFingerprint(value: string): string {
  return value.replace(/[:\s]/g, "").toLowerCase();
}

const TLS_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS|ALTNAME|HOSTNAME|UNTRUSTED/;

function agentFor(policy: TlsPolicy, maxSockets: number): https.Agent {
  const base = { keepAlive: true, maxSockets, maxCachedSessions: 0 };
  if (policy.mode === "verify")
    return new https.Agent({
      ...base,
      rejectUnauthorized: true,
      ...(policy.ca === undefined ? {} : { ca: policy.ca }),
    });
  if (policy.mode === "insecure") return new https.Agent({ ...base, rejectUnauthorized: false });
  const expected = normalizeFingerprint(policy.fingerprint);
  const sha1 = expected.length === 40;
  const agent = new https.Agent({ ...base, rejectUnauthorized: false });
  // Hand the socket to HTTP only once the peer certificate matched the pin.
  const pinned = (options: tls.ConnectionOptions, callback: (err: Error | null, s?: Duplex) => void) => {
    const socket = tls.connect({ ...options, rejectUnauthorized: false });
    socket.once("secureConnect", () => {
      const cert = socket.getPeerCertificate();
      const seen = normalizeFingerprint(sha1 ? cert.fingerprint : cert.fingerprint256);
      if (seen === expected) {
        callback(null, socket);
        return;
      }
      socket.destroy();
      callback(
        vsphereError(
          "VSPHERE_TLS_UNTRUSTED",
          `TLS certificate of ${options.host ?? "server"} does not match the pinned thumbprint (seen ${seen})`,
          {
            details: { seen, expected },
          },
        ),
      );
    });
    socket.once("error", (err: Error) => callback(err));
    return undefined;
  };
  agent.createConnection = pinned;
  return agent;
}

/** A reused keep-alive socket was reset before the request was read (internal: retried once). */
class StaleSocket extends Error {}

export class HttpsTransport {
  readonly #base: URL;
  readonly #agent: https.Agent;
  readonly #timeoutMs: number;
  readonly #cookies = new Map<string, string>();

  constructor(base: URL, options: TransportOptions) {
    this.#base = base;
    this.#timeoutMs = options.timeoutMs;
    this.#agent = agentFor(options.tls, options.maxSockets ?? 8);
  }

  get origin(): string {
    return this.#base.origin;
  }

  cookie(name: string): string | undefined {
    return this.#cookies.get(name);
  }

  clearCookies(): void {
    this.#cookies.clear();
  }

  /**
   * One HTTP exchange. A keep-alive socket the server closed while idle fails with ECONNRESET before
   * our request was read; that case (and only that one) is repeated once on a fresh socket, as
   * Node's documentation advises, so even non-idempotent calls survive an idle timeout.
   */
  async request(req: HttpRequest): Promise<HttpResponse> {
    try {
      return await this.#exchange(req);
    } catch (err) {
      if (err instanceof StaleSocket) return this.#exchange(req);
      throw err;
    }
  }

  #exchange(req: HttpRequest): Promise<HttpResponse> {
    const url = new URL(req.path, this.#base);
    const maxBytes = req.maxBytes ?? 512 * 1024 * 1024;
    const headers: Record<string, string> = { ...req.headers };
    if (this.#cookies.size > 0) headers.Cookie = [...this.#cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    if (req.body !== undefined) headers["Content-Length"] = String(Buffer.byteLength(req.body));
    return new Promise<HttpResponse>((resolve, reject) => {
      if (req.signal?.aborted === true) {
        reject(
          vsphereError("VSPHERE_ABORTED", `${req.method} ${url.pathname} was aborted`, {
            cause: req.signal.reason,
          }),
        );
        return;
      }
      const r = https.request(url, {
        method: req.method,
        headers,
        agent: this.#agent,
        timeout: this.#timeoutMs,
      });
      const onAbort = () =>
        r.destroy(
          vsphereError("VSPHERE_ABORTED", `${req.method} ${url.pathname} was aborted`, {
            cause: req.signal?.reason,
          }),
        );
      req.signal?.addEventListener("abort", onAbort, { once: true });
      const done = () => req.signal?.removeEventListener("abort", onAbort);
      r.on("timeout", () =>
        r.destroy(
          vsphereError(
            "VSPHERE_UNREACHABLE",
            `No answer from ${url.host} to ${req.method} ${url.pathname} within ${this.#timeoutMs} ms`,
            { retryable: true },
          ),
        ),
      );
      r.on("error", (err) => {
        done();
        const reset = "code" in err && err.code === "ECONNRESET";
        reject(reset && r.reusedSocket ? new StaleSocket() : this.#wrap(err, req.method, url));
      });
      r.on("response", (res) => {
        this.#storeCookies(res.headers["set-cookie"]);
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            r.destroy(
              vsphereError(
                "VSPHERE_BAD_ANSWER",
                `Answer from ${url.host} to ${url.pathname} exceeds ${maxBytes} bytes`,
              ),
            );
            return;
          }
          chunks.push(chunk);
        });
        res.on("end", () => {
          done();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
        res.on("error", (err) => {
          done();
          reject(this.#wrap(err, req.method, url));
        });
      });
      r.end(req.body);
    });
  }

  close(): void {
    this.#agent.destroy();
  }

  #storeCookies(setCookie: string[] | undefined): void {
    for (const line of setCookie ?? []) {
      const pair = line.split(";")[0] ?? "";
      const eq = pair.indexOf("=");
      if (eq > 0) this.#cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
  }

  #wrap(err: unknown, method: string, url: URL): Error {
    if (
      err instanceof Error &&
      "code" in err &&
      typeof err.code === "string" &&
      err.code.startsWith("VSPHERE_")
    )
      return err;
    const code = err instanceof Error && "code" in err ? String(err.code) : "";
    const message = err instanceof Error ? err.message : String(err);
    if (TLS_ERROR.test(code)) {
      return vsphereError(
        "VSPHERE_TLS_UNTRUSTED",
        `TLS certificate of ${url.host} is not trusted (${code}: ${message}); set tls.ca or tls.thumbprint`,
        { cause: err },
      );
    }
    return vsphereError(
      "VSPHERE_UNREACHABLE",
      `${method} ${url.origin}${url.pathname} failed: ${code === "" ? message : `${code} ${message}`}`,
      {
        cause: err,
        retryable: true,
      },
    );
  }
}
