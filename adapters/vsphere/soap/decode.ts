/**
 * Turns answer elements into plain values for zod (parse.ts): a leaf is its text, a leaf with a
 * plain `type` attribute is a ManagedObjectReference `{ type, value }`, an element with children is
 * an object keyed by child name (a repeated child becomes an array), and `xsi:type` is kept as
 * `_type`. Numbers stay text here, so xsd:long keeps every digit until parse.ts decides.
 */
import { xsiType, type XmlElement } from "./xml.js";

export type Plain = string | PlainObject | Plain[];
export interface PlainObject {
  [key: string]: Plain;
}

const XSD_PRIMITIVES = new Set([
  "string",
  "boolean",
  "int",
  "long",
  "short",
  "byte",
  "float",
  "double",
  "dateTime",
  "base64Binary",
  "anyURI",
  "decimal",
  "unsignedInt",
  "unsignedLong",
]);

export function toPlain(el: XmlElement): Plain {
  const type = xsiType(el);
  if (el.children.length === 0) {
    const moType = el.attrs.get("type");
    if (moType !== undefined) return { type: moType, value: el.text };
    if (type !== undefined && el.text === "" && !XSD_PRIMITIVES.has(type)) return { _type: type };
    return el.text;
  }
  const obj: PlainObject = {};
  if (type !== undefined) obj._type = type;
  const repeated = new Set<string>();
  for (const child of el.children) {
    const value = toPlain(child);
    const prev = obj[child.name];
    if (prev === undefined) obj[child.name] = value;
    else if (repeated.has(child.name) && Array.isArray(prev)) prev.push(value);
    else {
      obj[child.name] = [prev, value];
      repeated.add(child.name);
    }
  }
  return obj;
}
