/**
 * The vim25 SOAP client: one session (cookie `vmware_soap_session`) on one endpoint. `call` builds
 * the envelope, posts it, reads the answer or the fault, re-logs in once when the session expired,
 * and retries transient failures a bounded number of times (`decideRetry`, pure). Credentials are
 * held here only and never logged; requests are logged by method name.
 */
import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "../../src/domain/ports.js";
import { isSnapvisorError } from "../../src/domain/errors.js";
import { vsphereError, type VsphereError } from "./errors.js";
import { parseAnswer, serviceContentSchema, type ServiceContent } from "./parse.js";
import { toPlain, type Plain } from "./soap/decode.js";
import { buildEnvelope, readEnvelope, type MoRef, type SoapValue } from "./soap/envelope.js";
import { faultError, parseSoapFault } from "./soap/fault.js";
import type { HttpsTransport } from "./soap/transport.js";
import type { XmlElement } from "./soap/xml.js";

export const SESSION_COOKIE = "vmware_soap_session";

/** Calls that change nothing: safe to repeat after a network failure mid-request. */
const IDEMPOTENT = new Set([
  "RetrieveServiceContent",
  "RetrievePropertiesEx",
  "ContinueRetrievePropertiesEx",
  "QueryChangedDiskAreas",
  "QueryEvents",
  "Login",
  "Logout",
  "CreateContainerView",
  "DestroyView",
  "CancelRetrievePropertiesEx",
]);

export interface RetryDecision {
  readonly retry: boolean;
  readonly delayMs: number;
}

/**
 * Whether to repeat a failed call (pure). Server-side refusals marked retryable (TaskInProgress,
 * HostCommunication, busy) repeat for any method; network failures only for idempotent ones, since a
 * lost answer to CreateSnapshot_Task may hide a snapshot that was made. Backoff doubles from 500 ms.
 */
export function decideRetry(
  err: unknown,
  method: string,
  attempt: number,
  maxAttempts: number,
): RetryDecision {
  const no = { retry: false, delayMs: 0 };
  if (attempt >= maxAttempts || !isSnapvisorError(err) || !err.retryable) return no;
  if (err.code === "VSPHERE_NOT_AUTHENTICATED" || err.code === "VSPHERE_ABORTED") return no;
  if ((err.code === "VSPHERE_UNREACHABLE" || err.code === "VSPHERE_HTTP_STATUS") && !IDEMPOTENT.has(method))
    return no;
  return { retry: true, delayMs: Math.min(500 * 2 ** (attempt - 1), 8000) };
}

export interface VimClientOptions {
  readonly transport: HttpsTransport;
  readonly username: string;
  readonly password: string;
  readonly logger: Logger;
  readonly apiVersion: string;
  readonly maxAttempts: number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface CallOptions {
  readonly signal?: AbortSignal | undefined;
  /** What the call acts on, for error messages (VM name, moref). */
  readonly target?: string;
}

export class VimClient {
  readonly #o: VimClientOptions;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  #content: ServiceContent | undefined;
  #login: Promise<void> | undefined;
  /** Incremented at each Login, so concurrent calls failing on one expired session log in once. */
  #generation = 0;

  constructor(options: VimClientOptions) {
    this.#o = options;
    this.#sleep =
      options.sleep ?? ((ms, signal) => delay(ms, undefined, signal === undefined ? {} : { signal }));
  }

  get transport(): HttpsTransport {
    return this.#o.transport;
  }

  get content(): ServiceContent {
    if (this.#content === undefined)
      throw vsphereError("VSPHERE_NOT_AUTHENTICATED", "vSphere client used before connect()");
    return this.#content;
  }

  get isVCenter(): boolean {
    return this.content.about.apiType === "VirtualCenter";
  }

  /** Reads the service content and logs in. */
  async connect(signal?: AbortSignal): Promise<void> {
    const [sc] = await this.#callOnce(
      "RetrieveServiceContent",
      { _this: { type: "ServiceInstance", value: "ServiceInstance" } },
      { signal, target: this.#o.transport.origin },
    );
    this.#content = parseAnswer(
      serviceContentSchema,
      sc === undefined ? undefined : toPlain(sc),
      "RetrieveServiceContent",
    );
    await this.#relogin(signal);
    this.#o.logger.info(
      { endpoint: this.#o.transport.origin, product: this.#content.about.fullName },
      "vSphere session opened",
    );
  }

  /** The current session generation (incremented by each Login); pass it back to `relogin`. */
  get generation(): number {
    return this.#generation;
  }

  /** Logs in again unless someone already did since `seen` (concurrent callers share one Login). */
  async relogin(signal?: AbortSignal, seen = this.#generation): Promise<void> {
    if (seen !== this.#generation && this.#login === undefined) return;
    await this.#relogin(signal);
  }

  async #relogin(signal?: AbortSignal): Promise<void> {
    this.#login ??= (async () => {
      this.#o.transport.clearCookies();
      await this.#callOnce(
        "Login",
        { _this: this.content.sessionManager, userName: this.#o.username, password: this.#o.password },
        { signal, target: `${this.#o.transport.origin} as "${this.#o.username}"` },
      );
      if (this.#o.transport.cookie(SESSION_COOKIE) === undefined)
        throw vsphereError(
          "VSPHERE_BAD_ANSWER",
          `Login to ${this.#o.transport.origin} set no ${SESSION_COOKIE} cookie`,
        );
      this.#generation++;
    })().finally(() => (this.#login = undefined));
    return this.#login;
  }

  /** Invokes `method`; answers the `returnval` elements. */
  async call(
    method: string,
    args: Readonly<Record<string, SoapValue>>,
    options: CallOptions = {},
  ): Promise<XmlElement[]> {
    let relogged = false;
    for (let attempt = 1; ; attempt++) {
      const generation = this.#generation;
      try {
        return await this.#callOnce(method, args, options);
      } catch (err) {
        if (isSnapvisorError(err, "VSPHERE_NOT_AUTHENTICATED") && !relogged && method !== "Login") {
          relogged = true;
          // Another call may already have logged in again since this one was sent.
          if (generation === this.#generation || this.#login !== undefined) {
            this.#o.logger.info({ method }, "vSphere session expired; logging in again");
            await this.#relogin(options.signal);
          }
          attempt--;
          continue;
        }
        const d = decideRetry(err, method, attempt, this.#o.maxAttempts);
        if (!d.retry) throw err;
        this.#o.logger.warn(
          { method, attempt, code: (err as VsphereError).code },
          "vSphere call failed; retrying",
        );
        await this.#sleep(d.delayMs, options.signal);
      }
    }
  }

  /** `call` then decode the first returnval to plain values (undefined when the method returned nothing). */
  async callPlain(
    method: string,
    args: Readonly<Record<string, SoapValue>>,
    options: CallOptions = {},
  ): Promise<Plain | undefined> {
    const [first] = await this.call(method, args, options);
    return first === undefined ? undefined : toPlain(first);
  }

  async #callOnce(
    method: string,
    args: Readonly<Record<string, SoapValue>>,
    options: CallOptions,
  ): Promise<XmlElement[]> {
    const envelope = buildEnvelope(method, args);
    this.#o.logger.debug({ method }, "vSphere call");
    const res = await this.#o.transport.request({
      method: "POST",
      path: "/sdk",
      headers: { "Content-Type": "text/xml; charset=utf-8", SOAPAction: `"urn:vim25/${this.#o.apiVersion}"` },
      body: envelope,
      signal: options.signal,
    });
    const target = options.target ?? describe(args._this);
    const type = String(res.headers["content-type"] ?? "");
    if (!type.includes("xml")) {
      throw vsphereError(
        "VSPHERE_HTTP_STATUS",
        `${method} on ${target}: HTTP ${res.status} with ${type || "no content type"}`,
        {
          retryable: res.status === 502 || res.status === 503 || res.status === 504,
          details: { status: res.status },
        },
      );
    }
    const answer = readEnvelope(res.body.toString("utf8"), method);
    if (answer.kind === "fault") throw faultError(parseSoapFault(answer.fault), method, target);
    return [...answer.returnval];
  }

  async close(): Promise<void> {
    if (this.#content !== undefined && this.#o.transport.cookie(SESSION_COOKIE) !== undefined) {
      await this.#callOnce("Logout", { _this: this.#content.sessionManager }, {}).catch((err: unknown) =>
        this.#o.logger.debug({ err: String(err) }, "vSphere logout failed"),
      );
    }
    this.#o.transport.close();
  }
}

function describe(v: SoapValue): string {
  return typeof v === "object" && v !== null && "value" in v && typeof v.value === "string"
    ? (v as MoRef).value
    : "vSphere";
}
