/**
 * A small test-only vim25 SOAP client: raw envelopes over HTTPS with a cookie, answers parsed into a
 * plain element tree. It deliberately shares no code with the simulator, so the conformance suite can
 * point it at vcsim and at our simulator alike.
 */
import { request } from "node:https";
import { XMLParser } from "fast-xml-parser";

export interface El {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly text: string;
  readonly children: readonly El[];
}

export type VimReply =
  | { readonly ok: true; readonly status: number; readonly body: El; readonly raw: string }
  | {
      readonly ok: false;
      readonly status: number;
      readonly faultType: string | undefined;
      readonly faultString: string;
      readonly detail: El | undefined;
      readonly raw: string;
    };

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "",
  parseTagValue: false,
  trimValues: false,
  preserveOrder: true,
  htmlEntities: true,
});

const local = (n: string) => n.slice(n.indexOf(":") + 1);

function toEl(raw: Record<string, unknown>): El | undefined {
  const tag = Object.keys(raw).find((k) => k !== ":@" && k !== "#text");
  if (!tag) return undefined;
  const attrs: Record<string, string> = {};
  for (const [k, v] of Object.entries((raw[":@"] as Record<string, unknown> | undefined) ?? {}))
    attrs[k] = String(v);
  let text = "";
  const children: El[] = [];
  for (const c of raw[tag] as Record<string, unknown>[]) {
    if ("#text" in c) text += String(c["#text"]);
    else {
      const e = toEl(c);
      if (e) children.push(e);
    }
  }
  return { name: local(tag), attrs, text, children };
}

export function parseXml(xml: string): El {
  const nodes = parser.parse(xml) as Record<string, unknown>[];
  for (const n of nodes) {
    const e = toEl(n);
    if (e && e.name !== "?xml") return e;
  }
  throw new Error("no root element");
}

/** The xsi:type of an element, whatever its prefix (vcsim writes `XMLSchema-instance:type`). */
export function xsiType(e: El): string | undefined {
  for (const [k, v] of Object.entries(e.attrs)) if (k.endsWith(":type")) return local(v);
  return undefined;
}

export function kids(e: El | undefined, name: string): El[] {
  return e ? e.children.filter((c) => c.name === name) : [];
}

export function kid(e: El | undefined, ...path: string[]): El | undefined {
  let cur = e;
  for (const p of path) cur = cur?.children.find((c) => c.name === p);
  return cur;
}

export function textAt(e: El | undefined, ...path: string[]): string | undefined {
  return kid(e, ...path)?.text;
}

export function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export interface Ref {
  readonly type: string;
  readonly value: string;
}

export function ref(e: El | undefined): Ref {
  if (!e || !e.attrs["type"]) throw new Error(`not a moref: ${JSON.stringify(e)}`);
  return { type: e.attrs["type"], value: e.text };
}

export function refXml(name: string, r: Ref): string {
  return `<${name} type="${esc(r.type)}">${esc(r.value)}</${name}>`;
}

export class VimTestClient {
  cookie: string | undefined;
  readonly #url: URL;
  constructor(sdkUrl: string) {
    this.#url = new URL(sdkUrl);
  }

  get origin(): string {
    return this.#url.origin;
  }

  async call(method: string, self: Ref, inner = ""): Promise<VimReply> {
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
      `<soapenv:Body><${method} xmlns="urn:vim25">${refXml("_this", self)}${inner}</${method}></soapenv:Body></soapenv:Envelope>`;
    const { status, body, setCookie } = await this.post(xml);
    if (setCookie) this.cookie = setCookie;
    const env = parseXml(body);
    const b = kid(env, "Body");
    const fault = kid(b, "Fault");
    if (fault) {
      const detail = kid(fault, "detail")?.children[0];
      return {
        ok: false,
        status,
        faultType: detail ? xsiType(detail) : undefined,
        faultString: textAt(fault, "faultstring") ?? "",
        detail,
        raw: body,
      };
    }
    return { ok: true, status, body: b!.children[0]!, raw: body };
  }

  /** A call that must succeed: its `returnval` elements. */
  async ok(method: string, self: Ref, inner = ""): Promise<El[]> {
    const r = await this.call(method, self, inner);
    if (!r.ok) throw new Error(`${method} failed: ${r.faultType}: ${r.faultString}`);
    return kids(r.body, "returnval");
  }

  post(xml: string): Promise<{ status: number; body: string; setCookie: string | undefined }> {
    return new Promise((resolve, reject) => {
      const req = request(
        this.#url,
        {
          method: "POST",
          rejectUnauthorized: false,
          headers: {
            "Content-Type": "text/xml; charset=utf-8",
            SOAPAction: "urn:vim25/6.5",
            ...(this.cookie ? { Cookie: this.cookie } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const sc = res.headers["set-cookie"]?.[0]?.split(";")[0];
            resolve({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks).toString("utf8"),
              setCookie: sc,
            });
          });
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(xml);
    });
  }
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
  /** True when the connection dropped before the announced body arrived. */
  readonly aborted: boolean;
}

/** A GET (or HEAD) with optional cookie/headers, collecting the body even if the connection drops. */
export function httpGet(
  url: string,
  headers: Record<string, string> = {},
  method = "GET",
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, rejectUnauthorized: false, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let aborted = false;
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("aborted", () => (aborted = true));
      res.on("error", () => (aborted = true));
      res.on("close", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          aborted: aborted || !res.complete,
        }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}
