/**
 * The .NET surface the adapter's scripts touch: casts, a few static types ([Convert], [Text.Encoding],
 * [Console], [ScriptBlock], [Security.SecurityElement]) and instance members of the value model.
 * Anything else is refused with PowerShell's own wording.
 */
import {
  PsEnum,
  PsError,
  PsGuid,
  PsHashtable,
  PsObject,
  PsScriptBlock,
  PsTypeRef,
  toBool,
  toNumber,
  toStr,
  type PsValue,
} from "./values.js";

export interface BuiltinHost {
  writeStdout(text: string): void;
  writeStderr(text: string): void;
  createScriptBlock(text: string): PsScriptBlock;
}

const TYPE_ALIASES: Record<string, string> = {
  convert: "System.Convert",
  "text.encoding": "System.Text.Encoding",
  console: "System.Console",
  scriptblock: "System.Management.Automation.ScriptBlock",
  "security.securityelement": "System.Security.SecurityElement",
  math: "System.Math",
  int: "System.Int32",
  int32: "System.Int32",
  long: "System.Int64",
  int64: "System.Int64",
  uint16: "System.UInt16",
  uint32: "System.UInt32",
  uint64: "System.UInt64",
  byte: "System.Byte",
  double: "System.Double",
  string: "System.String",
  bool: "System.Boolean",
  guid: "System.Guid",
  array: "System.Array",
  pscustomobject: "System.Management.Automation.PSObject",
  hashtable: "System.Collections.Hashtable",
};

/** Canonical full name of a type literal ("Text.Encoding" -> "System.Text.Encoding"). */
export function resolveTypeName(name: string): string {
  const lower = name.toLowerCase().replace(/^system\./, "");
  const alias = TYPE_ALIASES[lower];
  if (alias) return alias;
  throw new PsError(
    `Unable to find type [${name}].`,
    "System.Management.Automation.RuntimeException",
    "TypeNotFound",
    "InvalidOperation",
  );
}

const INT_RANGES: Record<string, [number, number]> = {
  "System.Int32": [-2147483648, 2147483647],
  "System.Int64": [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  "System.UInt16": [0, 65535],
  "System.UInt32": [0, 4294967295],
  "System.UInt64": [0, Number.MAX_SAFE_INTEGER],
  "System.Byte": [0, 255],
};

export function cast(typeName: string, v: PsValue): PsValue {
  const full = resolveTypeName(typeName);
  const range = INT_RANGES[full];
  if (range) {
    const n = Math.round(toNumber(v, full));
    if (n < range[0] || n > range[1]) {
      throw new PsError(
        `Cannot convert value "${toStr(v)}" to type "${full}". Error: "Value was either too large or too small for a ${full.slice(7)}."`,
        "System.Management.Automation.PSInvalidCastException",
        "InvalidCastIConvertible",
        "InvalidArgument",
      );
    }
    return n;
  }
  switch (full) {
    case "System.Double":
      return toNumber(v, full);
    case "System.String":
      return v === null ? "" : toStr(v);
    case "System.Boolean":
      return toBool(v);
    case "System.Guid":
      return v instanceof PsGuid ? v : new PsGuid(toStr(v));
    case "System.Array":
      return Array.isArray(v) ? v : v === null ? [] : [v];
    case "System.Management.Automation.PSObject": {
      if (!(v instanceof PsHashtable)) return v;
      return new PsObject("System.Management.Automation.PSCustomObject", Object.fromEntries(v.entries()));
    }
    case "System.Collections.Hashtable":
      if (v instanceof PsHashtable) return v;
      break;
  }
  throw new PsError(
    `Cannot convert "${toStr(v)}" to "${full}".`,
    "System.Management.Automation.PSInvalidCastException",
  );
}

function methodMissing(target: string, name: string): PsError {
  return new PsError(
    `Method invocation failed because [${target}] does not contain a method named '${name}'.`,
    "System.Management.Automation.RuntimeException",
    "MethodNotFound",
    "InvalidOperation",
  );
}

function netCallError(method: string, argc: number, message: string): PsError {
  return new PsError(
    `Exception calling "${method}" with "${argc}" argument(s): "${message}"`,
    "System.Management.Automation.MethodInvocationException",
    "FormatException",
  );
}

function writer(write: (t: string) => void): PsObject {
  return new PsObject("System.IO.TextWriter")
    .method("WriteLine", (a) => void write(toStr(a[0] ?? "") + "\n"))
    .method("Write", (a) => void write(toStr(a[0] ?? "")))
    .method("Flush", () => undefined);
}

const utf8 = new PsObject("System.Text.UTF8Encoding")
  .method("GetString", (a) => {
    const bytes = a[0];
    if (!(bytes instanceof Uint8Array)) throw netCallError("GetString", a.length, "Array cannot be null.");
    return Buffer.from(bytes).toString("utf8");
  })
  .method("GetBytes", (a) => new Uint8Array(Buffer.from(toStr(a[0] ?? ""), "utf8")));

export function staticMember(type: PsTypeRef, name: string, host: BuiltinHost): PsValue {
  const key = `${type.name}::${name.toLowerCase()}`;
  switch (key) {
    case "System.Text.Encoding::utf8":
      return utf8;
    case "System.Console::out":
      return writer((t) => host.writeStdout(t));
    case "System.Console::error":
      return writer((t) => host.writeStderr(t));
  }
  throw new PsError(
    `The property '${name}' cannot be found on type [${type.name}].`,
    "System.Management.Automation.RuntimeException",
    "PropertyNotFound",
  );
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function callStatic(type: PsTypeRef, name: string, args: PsValue[], host: BuiltinHost): PsValue {
  const key = `${type.name}::${name.toLowerCase()}`;
  switch (key) {
    case "System.Convert::frombase64string": {
      const s = toStr(args[0] ?? null).replace(/\s/g, "");
      if (s.length % 4 !== 0 || !BASE64.test(s)) {
        throw netCallError(
          "FromBase64String",
          args.length,
          "The input is not a valid Base-64 string as it contains a non-base 64 character, more than two padding characters, or an illegal character among the padding characters. ",
        );
      }
      return new Uint8Array(Buffer.from(s, "base64"));
    }
    case "System.Convert::tobase64string": {
      const b = args[0];
      if (!(b instanceof Uint8Array))
        throw netCallError("ToBase64String", args.length, "Value cannot be null.");
      return Buffer.from(b).toString("base64");
    }
    case "System.Management.Automation.ScriptBlock::create":
      return host.createScriptBlock(toStr(args[0] ?? null));
    case "System.Security.SecurityElement::escape":
      return toStr(args[0] ?? null)
        .replace(/&/g, "&amp;")
        .replace(/</g, "&lt;")
        .replace(/>/g, "&gt;")
        .replace(/"/g, "&quot;")
        .replace(/'/g, "&apos;");
    case "System.Math::min":
      return Math.min(toNumber(args[0] ?? null, "System.Double"), toNumber(args[1] ?? null, "System.Double"));
    case "System.Math::max":
      return Math.max(toNumber(args[0] ?? null, "System.Double"), toNumber(args[1] ?? null, "System.Double"));
  }
  throw methodMissing(type.name, name);
}

function typeOf(v: PsValue): string {
  if (v === null) return "null";
  if (typeof v === "string") return "System.String";
  if (typeof v === "number") return Number.isInteger(v) ? "System.Int32" : "System.Double";
  if (typeof v === "boolean") return "System.Boolean";
  if (Array.isArray(v)) return "System.Object[]";
  if (v instanceof Uint8Array) return "System.Byte[]";
  if (v instanceof Date) return "System.DateTime";
  if (v instanceof PsEnum) return v.typeName;
  if (v instanceof PsGuid) return "System.Guid";
  if (v instanceof PsHashtable) return "System.Collections.Hashtable";
  if (v instanceof PsScriptBlock) return "System.Management.Automation.ScriptBlock";
  if (v instanceof PsTypeRef) return "System.RuntimeType";
  return v.typeName;
}

function typeInfo(v: PsValue): PsObject {
  const full = typeOf(v);
  return new PsObject("System.RuntimeType", { FullName: full, Name: full.split(".").pop() ?? full });
}

/** `$v.Name`: properties of the value model; missing properties are $null as in PowerShell. */
export function getMember(v: PsValue, name: string): PsValue {
  const lower = name.toLowerCase();
  if (v === null) return null;
  if (v instanceof PsObject) return v.get(name) ?? null;
  if (v instanceof PsHashtable) {
    if (v.has(name)) return v.get(name) ?? null;
    if (lower === "count") return v.size;
    if (lower === "keys") return v.entries().map(([k]) => k);
    return null;
  }
  if (Array.isArray(v)) {
    if (lower === "count" || lower === "length") return v.length;
    // Member enumeration: $array.Name is the Name of each element.
    return v.map((x) => getMember(x, name)).filter((x) => x !== null);
  }
  if (typeof v === "string" && lower === "length") return v.length;
  if (v instanceof Uint8Array && (lower === "length" || lower === "count")) return v.length;
  if (v instanceof PsEnum && lower === "value__") return v.value;
  if (lower === "count") return 1;
  return null;
}

export function setMember(target: PsValue, name: string, value: PsValue): void {
  if (target instanceof PsObject) {
    if (!target.has(name) && target.typeName !== "System.Management.Automation.PSCustomObject") {
      throw new PsError(
        `The property '${name}' cannot be found on this object. Verify that the property exists and can be set.`,
        "System.Management.Automation.RuntimeException",
        "PropertyAssignmentException",
      );
    }
    target.set(name, value);
    return;
  }
  if (target instanceof PsHashtable) {
    target.set(name, value);
    return;
  }
  throw new PsError(
    `The property '${name}' cannot be found on this object. Verify that the property exists and can be set.`,
    "System.Management.Automation.RuntimeException",
    "PropertyNotFound",
  );
}

export function callMethod(v: PsValue, name: string, args: PsValue[]): PsValue | undefined {
  const lower = name.toLowerCase();
  if (v === null) {
    throw new PsError(
      "You cannot call a method on a null-valued expression.",
      "System.Management.Automation.RuntimeException",
      "InvokeMethodOnNull",
      "InvalidOperation",
    );
  }
  if (lower === "gettype") return typeInfo(v);
  if (v instanceof PsObject) {
    const m = v.methods.get(lower);
    if (m) return m(args);
    if (lower === "tostring") return toStr(v);
  }
  if (lower === "tostring") {
    if (v instanceof Date && args[0] === "o") return v.toISOString();
    return toStr(v);
  }
  if (typeof v === "string") {
    const a0 = toStr(args[0] ?? null);
    switch (lower) {
      case "tolower":
      case "tolowerinvariant":
        return v.toLowerCase();
      case "toupper":
      case "toupperinvariant":
        return v.toUpperCase();
      case "trim":
        return v.trim();
      case "startswith":
        return v.toLowerCase().startsWith(a0.toLowerCase()) && v.startsWith(a0);
      case "endswith":
        return v.endsWith(a0);
      case "contains":
        return v.includes(a0);
      case "replace":
        return v.split(a0).join(toStr(args[1] ?? null));
      case "substring":
        return v.substring(
          toNumber(args[0] ?? null, "System.Int32"),
          args[1] === undefined
            ? undefined
            : toNumber(args[0] ?? null, "System.Int32") + toNumber(args[1], "System.Int32"),
        );
    }
  }
  if (v instanceof PsHashtable && lower === "containskey") return v.has(toStr(args[0] ?? null));
  if (Array.isArray(v) && lower === "contains") return v.some((x) => toStr(x) === toStr(args[0] ?? null));
  throw methodMissing(typeOf(v), name);
}
