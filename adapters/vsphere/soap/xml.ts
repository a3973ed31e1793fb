/**
 * A small, strict XML 1.0 reader and the escaping half of a writer, enough for SOAP: namespaces are
 * resolved (so `xsi:type` is recognised whatever prefix the server uses: vCenter writes `xsi:`,
 * vcsim `XMLSchema-instance:`), only the five predefined and numeric character references are
 * accepted, and DOCTYPE is refused (SOAP forbids it; it is also how entity-expansion attacks start).
 * Pure: text in, tree out.
 */
import { vsphereError } from "../errors.js";

export const XSI_NS = "http://www.w3.org/2001/XMLSchema-instance";
export const XSD_NS = "http://www.w3.org/2001/XMLSchema";
const XML_NS = "http://www.w3.org/XML/1998/namespace";

export interface XmlElement {
  /** Local name, prefix removed. */
  readonly name: string;
  readonly ns: string;
  /** Attributes by `{ns}local` for namespaced ones, plain `local` otherwise. */
  readonly attrs: ReadonlyMap<string, string>;
  readonly children: XmlElement[];
  /** Concatenated character data directly inside this element (CDATA included). */
  text: string;
  /** Prefix -> namespace URI in scope here, to resolve QName values such as `xsi:type="xsd:long"`. */
  readonly scope: ReadonlyMap<string, string>;
}

const NAMED: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function bad(message: string, at: number): never {
  throw vsphereError(
    "VSPHERE_BAD_ANSWER",
    `Malformed XML in the server's answer: ${message} at offset ${at}`,
  );
}

function decodeRefs(raw: string, at: number): string {
  if (!raw.includes("&")) return raw;
  return raw.replace(/&([^;&\s]{0,12});?/g, (match, ref: string) => {
    if (!match.endsWith(";")) bad(`unterminated reference "${match}"`, at);
    if (ref.startsWith("#")) {
      const code = ref[1] === "x" ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10);
      const valid =
        Number.isInteger(code) &&
        /^#(x[0-9a-fA-F]+|[0-9]+)$/.test(ref) &&
        (code === 0x9 ||
          code === 0xa ||
          code === 0xd ||
          (code >= 0x20 && code <= 0xd7ff) ||
          (code >= 0xe000 && code <= 0xfffd) ||
          (code >= 0x10000 && code <= 0x10ffff));
      if (!valid) bad(`invalid character reference "${match}"`, at);
      return String.fromCodePoint(code);
    }
    const named = NAMED[ref];
    if (named === undefined) bad(`unknown entity "${match}"`, at);
    return named;
  });
}

function resolve(qname: string, scope: ReadonlyMap<string, string>, isAttr: boolean, at: number) {
  const colon = qname.indexOf(":");
  if (colon < 0) return { ns: isAttr ? "" : (scope.get("") ?? ""), local: qname };
  const prefix = qname.slice(0, colon);
  const ns = prefix === "xml" ? XML_NS : scope.get(prefix);
  if (ns === undefined) bad(`undeclared namespace prefix "${prefix}"`, at);
  return { ns, local: qname.slice(colon + 1) };
}

const ATTR = /\s*([^\s=/>]+)\s*=\s*(?:"([^"<]*)"|'([^'<]*)')/y;
const TAG_NAME = /<([^\s/>]+)/y;
const TAG_CLOSE = /\s*(\/?)>/y;
const NO_ATTRS: ReadonlyMap<string, string> = new Map();

/** Parses one XML document into its root element. */
export function parseXml(text: string): XmlElement {
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let pos = 0;
  while (pos < text.length) {
    const lt = text.indexOf("<", pos);
    const chunk = lt < 0 ? text.slice(pos) : text.slice(pos, lt);
    if (chunk.length > 0) {
      const top = stack[stack.length - 1];
      if (top === undefined) {
        if (chunk.trim() !== "") bad("text outside the root element", pos);
      } else top.text += decodeRefs(chunk.includes("\r") ? chunk.replace(/\r\n?/g, "\n") : chunk, pos);
    }
    if (lt < 0) break;
    pos = lt;
    if (text.startsWith("<?", pos)) {
      const end = text.indexOf("?>", pos);
      if (end < 0) bad("unterminated processing instruction", pos);
      pos = end + 2;
    } else if (text.startsWith("<!--", pos)) {
      const end = text.indexOf("-->", pos);
      if (end < 0) bad("unterminated comment", pos);
      pos = end + 3;
    } else if (text.startsWith("<![CDATA[", pos)) {
      const end = text.indexOf("]]>", pos);
      const top = stack[stack.length - 1];
      if (end < 0 || top === undefined) bad("misplaced CDATA section", pos);
      top.text += text.slice(pos + 9, end);
      pos = end + 3;
    } else if (text.startsWith("<!", pos)) {
      bad("DOCTYPE and other declarations are not allowed in SOAP", pos);
    } else if (text.startsWith("</", pos)) {
      const end = text.indexOf(">", pos);
      const top = stack.pop();
      if (end < 0 || top === undefined) bad("unexpected end tag", pos);
      const qname = text.slice(pos + 2, end).trim();
      const { ns, local } = resolve(qname, top.scope, false, pos);
      if (local !== top.name || ns !== top.ns) bad(`end tag </${qname}> does not close <${top.name}>`, pos);
      pos = end + 1;
    } else {
      pos = openTag(text, pos, stack, (el) => {
        if (root !== undefined) bad("more than one root element", pos);
        root = el;
      });
    }
  }
  if (stack.length > 0) bad(`unclosed element <${stack[stack.length - 1]?.name}>`, text.length);
  if (root === undefined) bad("no root element", 0);
  return root;
}

function openTag(text: string, start: number, stack: XmlElement[], onRoot: (el: XmlElement) => void) {
  TAG_NAME.lastIndex = start;
  const m = TAG_NAME.exec(text);
  if (m === null) bad("invalid start tag", start);
  const qname = m[1] ?? "";
  let pos = TAG_NAME.lastIndex;
  const raw: [string, string][] = [];
  for (;;) {
    ATTR.lastIndex = pos;
    const a = ATTR.exec(text);
    if (a === null) break;
    const value = a[2] ?? a[3] ?? "";
    raw.push([a[1] ?? "", decodeRefs(/[\t\n\r]/.test(value) ? value.replace(/[\t\n\r]/g, " ") : value, pos)]);
    pos = ATTR.lastIndex;
  }
  TAG_CLOSE.lastIndex = pos;
  const c = TAG_CLOSE.exec(text);
  if (c === null) bad(`invalid start tag <${qname}>`, start);
  const parent = stack[stack.length - 1];
  // Scopes are shared with the parent unless this element declares namespaces (most do not).
  let scope: ReadonlyMap<string, string> = parent?.scope ?? NO_ATTRS;
  if (raw.some(([name]) => name === "xmlns" || name.startsWith("xmlns:"))) {
    const own = new Map(scope);
    for (const [name, value] of raw) {
      if (name === "xmlns") own.set("", value);
      else if (name.startsWith("xmlns:")) own.set(name.slice(6), value);
    }
    scope = own;
  }
  const attrs = raw.length === 0 ? NO_ATTRS : new Map<string, string>();
  for (const [name, value] of raw) {
    if (name === "xmlns" || name.startsWith("xmlns:")) continue;
    const { ns, local } = resolve(name, scope, true, start);
    (attrs as Map<string, string>).set(ns === "" ? local : `{${ns}}${local}`, value);
  }
  const { ns, local } = resolve(qname, scope, false, start);
  const el: XmlElement = { name: local, ns, attrs, children: [], text: "", scope };
  if (parent === undefined) onRoot(el);
  else parent.children.push(el);
  if (c[1] !== "/") stack.push(el);
  return TAG_CLOSE.lastIndex;
}

/** The `xsi:type` of an element as a local type name (`xsd:long` -> `long`), if any. */
export function xsiType(el: XmlElement): string | undefined {
  const value = el.attrs.get(`{${XSI_NS}}type`);
  if (value === undefined) return undefined;
  const colon = value.indexOf(":");
  return colon < 0 ? value : value.slice(colon + 1);
}

/** The first character XML 1.0 cannot carry at all, even escaped (controls, lone surrogates, U+FFFE/F). */
function forbiddenChar(value: string): number | undefined {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 && c !== 0x9 && c !== 0xa && c !== 0xd) return c;
    if (c === 0xfffe || c === 0xffff) return c;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return c;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return c;
  }
  return undefined;
}

/** Escapes character data; CR is written as a reference so it survives line-end normalisation. */
export function escapeText(value: string): string {
  const forbidden = forbiddenChar(value);
  if (forbidden !== undefined) {
    throw vsphereError(
      "VSPHERE_INVALID_ARGUMENT",
      `Cannot send ${JSON.stringify(value)} to vSphere: XML 1.0 cannot carry the character U+${forbidden.toString(16).padStart(4, "0")}`,
    );
  }
  return value.replace(/[&<>\r]/g, (ch) =>
    ch === "&" ? "&amp;" : ch === "<" ? "&lt;" : ch === ">" ? "&gt;" : "&#xD;",
  );
}

export function escapeAttr(value: string): string {
  return escapeText(value).replace(/["\t\n]/g, (ch) =>
    ch === '"' ? "&quot;" : ch === "\t" ? "&#x9;" : "&#xA;",
  );
}
