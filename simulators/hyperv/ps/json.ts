/**
 * ConvertTo-Json / ConvertFrom-Json as Windows PowerShell 5.1 does them (JavaScriptSerializer):
 * enums as numbers, DateTime as "\/Date(ms)\/", `<>&'` escaped as \u00XX, objects deeper than
 * -Depth written as their ToString().
 */
import {
  PsEnum,
  PsGuid,
  PsHashtable,
  PsObject,
  PsScriptBlock,
  PsTypeRef,
  toStr,
  type PsValue,
} from "./values.js";

const ESCAPES: Record<string, string> = {
  '"': '\\"',
  "\\": "\\\\",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

export function jsonString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const esc = ESCAPES[ch];
    if (esc !== undefined) out += esc;
    else if (ch < " " || ch === "<" || ch === ">" || ch === "&" || ch === "'") {
      out += "\\u" + ch.charCodeAt(0).toString(16).padStart(4, "0");
    } else out += ch;
  }
  return out + '"';
}

function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return jsonString(String(n));
  return String(n);
}

/** Serializes `value`; `depth` is the remaining -Depth budget for nested objects. */
export function toJson(value: PsValue, depth: number): string {
  return write(value, depth);
}

function write(v: PsValue, depth: number): string {
  if (v === null) return "null";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number") return formatNumber(v);
  if (typeof v === "string") return jsonString(v);
  if (v instanceof PsEnum) return String(v.value);
  if (v instanceof PsGuid) return jsonString(v.value);
  if (v instanceof Date) return `"\\/Date(${v.getTime()})\\/"`;
  if (v instanceof Uint8Array) return `[${Array.from(v).join(",")}]`;
  if (v instanceof PsScriptBlock || v instanceof PsTypeRef) return jsonString(toStr(v));
  if (Array.isArray(v)) {
    if (depth < 0) return jsonString(v.map((x) => toStr(x)).join(" "));
    return `[${v.map((x) => write(x, depth)).join(",")}]`;
  }
  if (depth <= 0) return jsonString(toStr(v));
  const entries = v instanceof PsHashtable ? v.entries() : v.entries();
  return `{${entries.map(([k, x]) => `${jsonString(k)}:${write(x, depth - 1)}`).join(",")}}`;
}

/** ConvertFrom-Json: objects become PSCustomObjects, arrays object[]. */
export function fromJson(text: string): PsValue {
  const parsed: unknown = JSON.parse(text);
  return convert(parsed);
}

function convert(v: unknown): PsValue {
  if (v === null || v === undefined) return null;
  if (typeof v === "boolean" || typeof v === "number" || typeof v === "string") return v;
  if (Array.isArray(v)) return v.map((x) => convert(x));
  const obj = new PsObject("System.Management.Automation.PSCustomObject");
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) obj.set(k, convert(x));
  return obj;
}
