/**
 * Builds vim25 request envelopes from typed values, in XSD element order (schema.ts), with `xsi:type`
 * where a value's type is a subtype of the declared one, and reads answer envelopes back into the
 * `returnval` elements or a fault element. Pure: values in, text out; text in, elements out.
 */
import { vsphereError } from "../errors.js";
import { DATA_TYPES, METHODS, type FieldType } from "./schema.js";
import { escapeAttr, escapeText, parseXml, type XmlElement } from "./xml.js";

export const SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/";
export const VIM25_NS = "urn:vim25";

/** A ManagedObjectReference, e.g. `{ type: "VirtualMachine", value: "vm-42" }`. */
export interface MoRef {
  readonly type: string;
  readonly value: string;
}

/** A data object; `_type` names its vim25 type (needed when it is a subtype of the declared one). */
export interface SoapObject {
  readonly _type: string;
  readonly [field: string]: SoapValue;
}

export type SoapValue =
  string | number | bigint | boolean | Date | MoRef | SoapObject | readonly SoapValue[] | undefined;

const INT32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };

function invalid(message: string): never {
  throw vsphereError("VSPHERE_INVALID_ARGUMENT", message);
}

function isMoRef(v: SoapValue): v is MoRef {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date) && !("_type" in v);
}

function isSubtype(type: string, of: string): boolean {
  for (let t: string | undefined = type; t !== undefined; t = DATA_TYPES[t]?.base) if (t === of) return true;
  return false;
}

function fieldsOf(type: string): (readonly [string, FieldType])[] {
  const def = DATA_TYPES[type];
  if (def === undefined) invalid(`vim25 type ${type} has no binding in soap/schema.ts`);
  return [...(def.base === undefined ? [] : fieldsOf(def.base)), ...def.fields];
}

function leaf(name: string, type: string, value: SoapValue, path: string): string {
  const open = (xsi?: string) => `<${name}${xsi === undefined ? "" : ` xsi:type="${xsi}"`}>`;
  switch (type) {
    case "string":
      if (typeof value !== "string") invalid(`${path} must be a string, got ${typeof value}`);
      return `${open()}${escapeText(value)}</${name}>`;
    case "boolean":
      if (typeof value !== "boolean") invalid(`${path} must be a boolean, got ${typeof value}`);
      return `${open()}${String(value)}</${name}>`;
    case "int":
      if (typeof value !== "number" || !Number.isInteger(value) || value < INT32.min || value > INT32.max)
        invalid(`${path} must be a 32-bit integer, got ${typeof value === "number" ? value : typeof value}`);
      return `${open()}${value}</${name}>`;
    case "long":
      // bigint carries the full xsd:long range; numbers are accepted only when exactly integral.
      if (typeof value === "bigint") {
        if (value < -(2n ** 63n) || value >= 2n ** 63n) invalid(`${path} is outside xsd:long: ${value}`);
        return `${open()}${value}</${name}>`;
      }
      if (typeof value !== "number" || !Number.isSafeInteger(value))
        invalid(
          `${path} must be a safe integer or bigint, got ${typeof value === "number" ? value : typeof value}`,
        );
      return `${open()}${value}</${name}>`;
    case "dateTime":
      if (!(value instanceof Date) || Number.isNaN(value.getTime())) invalid(`${path} must be a valid Date`);
      return `${open()}${value.toISOString()}</${name}>`;
    case "MoRef":
      if (!isMoRef(value)) invalid(`${path} must be a managed object reference`);
      return `<${name} type="${escapeAttr(value.type)}">${escapeText(value.value)}</${name}>`;
    case "anyType":
      // vim25 option values we set are strings (extraConfig); typed explicitly as the server needs.
      if (typeof value !== "string") invalid(`${path} (anyType) supports strings only`);
      return `${open("xsd:string")}${escapeText(value)}</${name}>`;
    default:
      return complex(name, type, value, path);
  }
}

function complex(name: string, declared: string, value: SoapValue, path: string): string {
  if (
    typeof value !== "object" ||
    value === null ||
    Array.isArray(value) ||
    value instanceof Date ||
    !("_type" in value)
  )
    invalid(`${path} must be a ${declared} object`);
  const obj = value;
  if (!isSubtype(obj._type, declared)) invalid(`${path}: ${obj._type} is not a ${declared}`);
  const fields = fieldsOf(obj._type);
  const known = new Set(fields.map(([n]) => n));
  for (const key of Object.keys(obj)) {
    if (key !== "_type" && !known.has(key))
      invalid(`${path}: ${obj._type} has no field "${key}" in soap/schema.ts`);
  }
  const xsi = obj._type === declared ? "" : ` xsi:type="${obj._type}"`;
  return `<${name}${xsi}>${encodeFields(fields, obj, path)}</${name}>`;
}

function encodeFields(
  fields: readonly (readonly [string, FieldType])[],
  obj: Record<string, SoapValue>,
  path: string,
) {
  let out = "";
  for (const [field, type] of fields) {
    const value = obj[field];
    if (value === undefined) continue;
    if (type.endsWith("[]")) {
      if (!Array.isArray(value)) invalid(`${path}.${field} must be an array`);
      const item = type.slice(0, -2);
      value.forEach((v: SoapValue, i: number) => (out += leaf(field, item, v, `${path}.${field}[${i}]`)));
    } else out += leaf(field, type, value, `${path}.${field}`);
  }
  return out;
}

/** The full request envelope for `method` with `args` (`_this` included). */
export function buildEnvelope(method: string, args: Readonly<Record<string, SoapValue>>): string {
  const fields = METHODS[method];
  if (fields === undefined) invalid(`vim25 method ${method} has no binding in soap/schema.ts`);
  const known = new Set(fields.map(([n]) => n));
  for (const key of Object.keys(args)) if (!known.has(key)) invalid(`${method} has no parameter "${key}"`);
  return (
    `<?xml version="1.0" encoding="UTF-8"?>` +
    `<soapenv:Envelope xmlns:soapenv="${SOAP_ENV_NS}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" ` +
    `xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>` +
    `<${method} xmlns="${VIM25_NS}">${encodeFields(fields, args, method)}</${method}>` +
    `</soapenv:Body></soapenv:Envelope>`
  );
}

export type SoapAnswer =
  | { readonly kind: "result"; readonly returnval: readonly XmlElement[] }
  | { readonly kind: "fault"; readonly fault: XmlElement };

/** Splits an answer envelope into its `returnval` elements or its Fault element. */
export function readEnvelope(text: string, method: string): SoapAnswer {
  const env = parseXml(text);
  if (env.name !== "Envelope" || env.ns !== SOAP_ENV_NS)
    throw vsphereError(
      "VSPHERE_BAD_ANSWER",
      `Answer to ${method} is not a SOAP envelope (root <${env.name}>)`,
    );
  const body = env.children.find((c) => c.name === "Body" && c.ns === SOAP_ENV_NS);
  const first = body?.children[0];
  if (first === undefined)
    throw vsphereError("VSPHERE_BAD_ANSWER", `Answer to ${method} has an empty SOAP body`);
  if (first.name === "Fault" && first.ns === SOAP_ENV_NS) return { kind: "fault", fault: first };
  if (first.name !== `${method}Response`)
    throw vsphereError(
      "VSPHERE_BAD_ANSWER",
      `Answer to ${method} holds <${first.name}> instead of <${method}Response>`,
    );
  return { kind: "result", returnval: first.children.filter((c) => c.name === "returnval") };
}
