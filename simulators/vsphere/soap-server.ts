/**
 * The /sdk endpoint: reads a SOAP request, checks the session cookie (`vmware_soap_session`), runs
 * the method and writes the response or the fault (HTTP 500 with a SOAP Fault, as vCenter does).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { METHODS, receiverType, type CallContext } from "./methods.js";
import type { Session, VsphereModel } from "./model.js";
import { ResultPager } from "./property-collector.js";
import {
  clientFaultEnvelope,
  faultEnvelope,
  morefOf,
  parseRequest,
  responseEnvelope,
  child,
} from "./soap-codec.js";
import { faults, VimFault } from "./vim-value.js";
import { UpdateState } from "./wait-for-updates.js";
import { isMoSubtype } from "./inventory.js";

export const SESSION_COOKIE = "vmware_soap_session";
const MAX_REQUEST = 16 * 1024 * 1024;

/** The session key from a Cookie header (value may be quoted, as vCenter sends it). */
export function sessionKeyFrom(cookieHeader: string | undefined): string | undefined {
  for (const part of (cookieHeader ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === SESSION_COOKIE) return v.join("=").replace(/^"|"$/g, "");
  }
  return undefined;
}

export async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) throw new Error(`request body larger than ${limit} bytes`);
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export class SoapEndpoint {
  readonly pager = new ResultPager();
  readonly updates = new UpdateState();
  constructor(private readonly model: VsphereModel) {}

  /** The session behind a request's cookie, counting the call (session-expiry rule applies). */
  session(cookieHeader: string | undefined): Session | undefined {
    const key = sessionKeyFrom(cookieHeader);
    return key ? this.model.sessions.get(key) : undefined;
  }

  dropSession(key: string): void {
    const s = this.model.sessions.get(key);
    if (!s) return;
    for (const k of s.owned) this.model.objects.delete(k);
    this.model.sessions.delete(key);
    this.pager.dropSession(key);
    this.updates.drop(key);
  }

  dropAllSessions(): void {
    for (const k of [...this.model.sessions.keys()]) this.dropSession(k);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (status: number, xml: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "Content-Type": "text/xml; charset=utf-8", ...headers });
      res.end(xml);
    };
    let method: string;
    let body;
    try {
      ({ method, body } = parseRequest(await readBody(req, MAX_REQUEST)));
    } catch (err) {
      send(500, clientFaultEnvelope(err instanceof Error ? err.message : String(err)));
      return;
    }
    const cookies: Record<string, string> = {};
    const ctx: CallContext = {
      model: this.model,
      pager: this.pager,
      updates: this.updates,
      session: undefined,
      userAgent: req.headers["user-agent"] ?? "",
      ipAddress: req.socket.remoteAddress ?? "",
      login: (s) => {
        this.model.sessions.set(s.key, s);
        cookies["Set-Cookie"] = `${SESSION_COOKIE}="${s.key}"; Path=/; HttpOnly; Secure;`;
      },
      logout: () => {
        if (ctx.session) this.dropSession(ctx.session.key);
      },
    };
    try {
      const def = METHODS[method];
      const self = morefOf(child(body, "_this"));
      if (!def) {
        if (self) throw faults.methodNotFound(self, method);
        throw faults.invalidRequest(`Unable to resolve WSDL method name ${method}`);
      }
      if (!self) throw faults.invalidArgument("_this", `Required parameter _this is missing`);
      if (def.auth) {
        if (this.model.sessionExpiryCountdown === 0) {
          this.dropAllSessions();
          this.model.sessionExpiryCountdown = undefined;
        }
        const s = this.session(req.headers.cookie);
        if (!s) throw faults.notAuthenticated(self);
        if (this.model.sessionExpiryCountdown !== undefined) this.model.sessionExpiryCountdown -= 1;
        s.callCount += 1;
        s.lastActiveTime = this.model.clock.now();
        ctx.session = s;
      }
      const actual = receiverType(ctx, self);
      if (actual === undefined) throw faults.managedObjectNotFound(self);
      if (!isMoSubtype(actual, def.on) && actual !== def.on) throw faults.methodNotFound(self, method);
      const result = await def.handler(ctx, self, body);
      send(200, responseEnvelope(method, result.type, result.value), cookies);
    } catch (err) {
      if (err instanceof VimFault) {
        send(500, faultEnvelope(err), cookies);
        return;
      }
      const fault = new VimFault(
        "SystemError",
        `Internal error: ${err instanceof Error ? err.message : String(err)}`,
        {
          reason: err instanceof Error ? err.message : String(err),
        },
      );
      send(500, faultEnvelope(fault), cookies);
    }
  }
}
