/**
 * vim25 SOAP codec: values to XML in XSD element order with xsi:type where the concrete type differs
 * from the declared one (as vCenter, vcsim, govmomi and pyvmomi do), envelopes, faults, and the
 * request side (parsed with fast-xml-parser, text kept verbatim so 64-bit values keep precision).
 */
import { XMLParser } from "fast-xml-parser";
import { VIM_TYPES } from "./vim-types.generated.js";
import { isDataObject, MoRef, Typed, type DataObject, type VimFault, type VimValue } from "./vim-value.js";

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) =>
    c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === '"' ? "&quot;" : "&apos;",
  );
}

/** Field list of a type, base types first, as the XSD sequence orders them. */
export function fieldsOf(type: string): readonly (readonly [string, string, string])[] {
  const cached = fieldCache.get(type);
  if (cached) return cached;
  const info = VIM_TYPES[type];
  if (!info)
    throw new Error(`vim25 type ${type} is not in vim-types.generated.ts (add it to vim-types.list)`);
  const fields = [...(info.base ? fieldsOf(info.base) : []), ...info.fields];
  fieldCache.set(type, fields);
  return fields;
}
const fieldCache = new Map<string, readonly (readonly [string, string, string])[]>();

/** True when `type` is `ancestor` or derives from it. */
export function isSubtype(type: string, ancestor: string): boolean {
  for (let t: string | undefined = type; t; t = VIM_TYPES[t]?.base) if (t === ancestor) return true;
  return false;
}

function primitiveText(type: string, v: VimValue): string {
  if (v instanceof Date) return v.toISOString();
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number") {
    if ((type === "xsd:long" || type === "xsd:int" || type === "xsd:short") && !Number.isInteger(v)) {
      throw new Error(`non-integer ${v} for ${type}`);
    }
    return String(v);
  }
  if (typeof v === "bigint" || typeof v === "string") return escapeXml(String(v));
  throw new Error(`value of type ${typeof v} is not a primitive for ${type}`);
}

/** `xsd:string` -> ArrayOfString with `<string>` items; `VirtualDevice` -> ArrayOfVirtualDevice. */
function arrayTypeName(item: string): [arrayType: string, itemElement: string] {
  const bare = item.startsWith("xsd:") ? item.slice(4) : item;
  return [`ArrayOf${bare.charAt(0).toUpperCase()}${bare.slice(1)}`, bare];
}

/**
 * Serializes `value` as element `name` declared as `declared` (a vim25 type, `xsd:*`, an enum name,
 * or `xsd:anyType`). In an anyType slot the xsi:type is always written.
 */
export function writeElement(name: string, declared: string, value: VimValue, attrs = ""): string {
  if (value instanceof Typed) return writeTyped(name, value.type, value.value, attrs);
  const anyType = declared === "xsd:anyType";
  if (value instanceof MoRef) {
    const xsi = anyType ? ' xsi:type="ManagedObjectReference"' : "";
    return `<${name}${attrs}${xsi} type="${escapeXml(value.type)}">${escapeXml(value.value)}</${name}>`;
  }
  if (Array.isArray(value)) {
    if (anyType) throw new Error(`array for anyType element ${name} needs a Typed wrapper`);
    return (value as readonly VimValue[]).map((item) => writeElement(name, declared, item, attrs)).join("");
  }
  if (isDataObject(value)) {
    const xsi = value.$type !== declared ? ` xsi:type="${value.$type}"` : "";
    return `<${name}${attrs}${xsi}>${writeFields(value)}</${name}>`;
  }
  if (anyType) throw new Error(`primitive for anyType element ${name} needs a Typed wrapper`);
  return `<${name}${attrs}>${primitiveText(declared, value)}</${name}>`;
}

/** An anyType slot: `type` may be `T[]` (written as ArrayOfT with one `<T>` child per item). */
function writeTyped(name: string, type: string, value: VimValue, attrs: string): string {
  if (type.endsWith("[]")) {
    const item = type.slice(0, -2);
    const [arrayType, element] = arrayTypeName(item);
    const items = (value as readonly VimValue[]).map((v) => writeElement(element, item, v)).join("");
    return `<${name}${attrs} xsi:type="${arrayType}">${items}</${name}>`;
  }
  if (value instanceof MoRef || isDataObject(value)) return writeElement(name, "xsd:anyType", value, attrs);
  // xsd primitives keep their prefix (xsd:long); enums are written by their own name.
  return `<${name}${attrs} xsi:type="${type}">${primitiveText(type, value)}</${name}>`;
}

export function writeFields(obj: DataObject): string {
  const fields = fieldsOf(obj.$type);
  const known = new Set(fields.map(([n]) => n));
  for (const key of Object.keys(obj)) {
    if (key !== "$type" && !known.has(key) && obj[key] !== undefined) {
      throw new Error(`field ${key} is not part of vim25 type ${obj.$type}`);
    }
  }
  let out = "";
  for (const [field, type, flags] of fields) {
    const v = obj[field];
    if (v === undefined || (Array.isArray(v) && v.length === 0 && flags.includes("?"))) {
      if (!flags.includes("?") && !(Array.isArray(v) && flags.includes("*"))) {
        throw new Error(`required field ${field} of ${obj.$type} is missing`);
      }
      continue;
    }
    out += writeElement(field, type, v);
  }
  return out;
}

const ENVELOPE_OPEN =
  '<?xml version="1.0" encoding="UTF-8"?>\n<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>';
const ENVELOPE_CLOSE = "</soapenv:Body></soapenv:Envelope>";

/** `<MethodResponse xmlns="urn:vim25">` with `returnval` elements (none when `value` is undefined). */
export function responseEnvelope(method: string, returnType: string, value: VimValue | undefined): string {
  const body = value === undefined ? "" : writeElement("returnval", returnType, value);
  return `${ENVELOPE_OPEN}<${method}Response xmlns="urn:vim25">${body}</${method}Response>${ENVELOPE_CLOSE}`;
}

export function faultEnvelope(fault: VimFault): string {
  const t = fault.type;
  const detail = `<${t}Fault xmlns="urn:vim25" xsi:type="${t}">${writeFields(fault.fault)}</${t}Fault>`;
  return `${ENVELOPE_OPEN}<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>${escapeXml(fault.message)}</faultstring><detail>${detail}</detail></soapenv:Fault>${ENVELOPE_CLOSE}`;
}

/** A client-side error (malformed envelope): SOAP Client fault without vim25 detail. */
export function clientFaultEnvelope(message: string): string {
  return `${ENVELOPE_OPEN}<soapenv:Fault><faultcode>ClientFaultCode</faultcode><faultstring>${escapeXml(message)}</faultstring></soapenv:Fault>${ENVELOPE_CLOSE}`;
}

// ---- request side ----

/** A parsed XML element: text, attributes (`@name`), children by local name (always arrays). */
export interface XNode {
  readonly text: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: ReadonlyMap<string, readonly XNode[]>;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "",
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  preserveOrder: true,
  processEntities: true,
  htmlEntities: true,
});

/** fast-xml-parser's preserveOrder shape: `{ tag: [children], ":@": {attrs} }` or `{ "#text": s }`. */
type RawNode = Record<string, unknown>;

function localName(tag: string): string {
  const i = tag.indexOf(":");
  return i < 0 ? tag : tag.slice(i + 1);
}

function tagOf(raw: RawNode): string | undefined {
  return Object.keys(raw).find((k) => k !== ":@" && k !== "#text");
}

function toNode(raw: RawNode, tag: string): XNode {
  let text = "";
  const children = new Map<string, XNode[]>();
  const attrs: Record<string, string> = {};
  const at = raw[":@"] as Record<string, unknown> | undefined;
  if (at) for (const [k, v] of Object.entries(at)) attrs[k] = String(v);
  for (const c of raw[tag] as RawNode[]) {
    if ("#text" in c) {
      text += String(c["#text"]);
      continue;
    }
    const ctag = tagOf(c);
    if (ctag === undefined) continue;
    const name = localName(ctag);
    const list = children.get(name) ?? [];
    list.push(toNode(c, ctag));
    children.set(name, list);
  }
  return { text, attrs, children };
}

export interface SoapRequest {
  readonly method: string;
  readonly body: XNode;
}

/** Parses a SOAP request envelope; throws a message suitable for a client fault. */
export function parseRequest(xml: string): SoapRequest {
  if (/<!DOCTYPE/i.test(xml)) throw new Error("DOCTYPE is not allowed in a SOAP request");
  let parsed: RawNode[];
  try {
    parsed = parser.parse(xml) as RawNode[];
  } catch (err) {
    throw new Error(`malformed XML: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const envRaw = parsed.find((n) => localName(tagOf(n) ?? "") === "Envelope");
  if (!envRaw) throw new Error("no SOAP Envelope element");
  const env = toNode(envRaw, tagOf(envRaw)!);
  const body = env.children.get("Body")?.[0];
  if (!body) throw new Error("no SOAP Body element");
  const [method, nodes] = [...body.children.entries()][0] ?? [];
  if (!method || !nodes?.[0]) throw new Error("empty SOAP Body");
  return { method, body: nodes[0] };
}

export function child(node: XNode, name: string): XNode | undefined {
  return node.children.get(name)?.[0];
}
export function childrenOf(node: XNode, name: string): readonly XNode[] {
  return node.children.get(name) ?? [];
}
export function textOf(node: XNode, name: string): string | undefined {
  return child(node, name)?.text;
}
/** The xsi:type of an element, whatever prefix the client bound the schema-instance namespace to. */
export function xsiType(node: XNode): string | undefined {
  for (const [k, v] of Object.entries(node.attrs)) if (k.endsWith(":type")) return localName(v);
  return undefined;
}
export function morefOf(node: XNode | undefined): MoRef | undefined {
  if (!node) return undefined;
  const type = node.attrs["type"];
  if (!type) return undefined;
  return new MoRef(type, node.text.trim());
}
export function boolOf(node: XNode, name: string): boolean | undefined {
  const t = textOf(node, name)?.trim();
  if (t === undefined) return undefined;
  if (t === "true" || t === "1") return true;
  if (t === "false" || t === "0") return false;
  throw new Error(`${name}: not a boolean: ${t}`);
}
