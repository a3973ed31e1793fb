/**
 * The value model of the simulator's PowerShell subset. Names (variables, properties, hashtable keys,
 * enum names) are case-insensitive as in PowerShell; `PsObject` keeps the original spelling for output.
 */
import type { SyntaxNode as Node } from "./syntax.js";

export type PsValue =
  | null
  | boolean
  | number
  | string
  | PsValue[]
  | Uint8Array
  | Date
  | PsObject
  | PsHashtable
  | PsEnum
  | PsGuid
  | PsScriptBlock
  | PsTypeRef;

/** A .NET method; `undefined` is a void method (it writes nothing to the pipeline). */
export type PsMethod = (args: PsValue[]) => PsValue | undefined;

/** A PSCustomObject or a .NET object seen through its properties (Get-VM's VirtualMachine, CIM instances). */
export class PsObject {
  readonly typeName: string;
  readonly #props = new Map<string, { name: string; value: PsValue }>();
  readonly methods = new Map<string, PsMethod>();
  /** What `[string]$obj` / `"$obj"` gives; PSCustomObject is "@{...}", .NET types their ToString(). */
  toStringValue: (() => string) | undefined;

  constructor(typeName: string, props: Record<string, PsValue> = {}) {
    this.typeName = typeName;
    for (const [k, v] of Object.entries(props)) this.set(k, v);
  }

  get(name: string): PsValue | undefined {
    return this.#props.get(name.toLowerCase())?.value;
  }

  has(name: string): boolean {
    return this.#props.has(name.toLowerCase());
  }

  set(name: string, value: PsValue): void {
    const key = name.toLowerCase();
    const existing = this.#props.get(key);
    this.#props.set(key, { name: existing?.name ?? name, value });
  }

  entries(): Array<[string, PsValue]> {
    return [...this.#props.values()].map((p) => [p.name, p.value]);
  }

  method(name: string, fn: PsMethod): this {
    this.methods.set(name.toLowerCase(), fn);
    return this;
  }
}

/** `@{...}`: insertion-ordered, case-insensitive keys. */
export class PsHashtable {
  readonly #entries = new Map<string, { key: string; value: PsValue }>();

  get(key: string): PsValue | undefined {
    return this.#entries.get(key.toLowerCase())?.value;
  }

  has(key: string): boolean {
    return this.#entries.has(key.toLowerCase());
  }

  set(key: string, value: PsValue): void {
    const k = key.toLowerCase();
    const existing = this.#entries.get(k);
    this.#entries.set(k, { key: existing?.key ?? key, value });
  }

  entries(): Array<[string, PsValue]> {
    return [...this.#entries.values()].map((e) => [e.key, e.value]);
  }

  get size(): number {
    return this.#entries.size;
  }
}

/** A .NET enum value: ConvertTo-Json (5.1) writes the number, ToString() the name. */
export class PsEnum {
  constructor(
    readonly typeName: string,
    readonly name: string,
    readonly value: number,
  ) {}
}

/** System.Guid: written by ConvertTo-Json as its "D" string; compares with strings case-insensitively. */
export class PsGuid {
  readonly value: string;
  constructor(value: string) {
    this.value = value.toLowerCase();
  }
}

export class PsScriptBlock {
  constructor(
    readonly body: Node,
    readonly text: string,
  ) {}
}

/** `[Convert]`, `[Text.Encoding]`: the target of `::` static member access. */
export class PsTypeRef {
  constructor(readonly name: string) {}
}

/** A PowerShell error record travelling as a JS exception; `$_` in catch blocks. */
export class PsError extends Error {
  constructor(
    message: string,
    readonly exceptionType: string = "System.Management.Automation.RuntimeException",
    readonly errorId: string = "RuntimeException",
    readonly category: string = "NotSpecified",
    /** Non-terminating errors stop only with -ErrorAction Stop or $ErrorActionPreference = 'Stop'. */
    readonly terminating = true,
  ) {
    super(message);
  }
}

/** Control flow out of a script block (`return`). */
export class ReturnSignal extends Error {
  constructor(readonly output: PsValue[]) {
    super("return");
  }
}

export function isArray(v: PsValue | undefined): v is PsValue[] {
  return Array.isArray(v);
}

/** PowerShell truthiness. */
export function toBool(v: PsValue | undefined): boolean {
  if (v === null || v === undefined) return false;
  if (typeof v === "boolean") return v;
  if (typeof v === "number") return v !== 0;
  if (typeof v === "string") return v.length > 0;
  if (Array.isArray(v)) {
    if (v.length === 0) return false;
    if (v.length === 1) return toBool(v[0]);
    return true;
  }
  if (v instanceof PsEnum) return v.value !== 0;
  return true;
}

/** `[string]$v` and string interpolation. */
export function toStr(v: PsValue | undefined): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v;
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number") return String(v);
  if (Array.isArray(v)) return v.map((x) => toStr(x)).join(" ");
  if (v instanceof PsEnum) return v.name;
  if (v instanceof PsGuid) return v.value;
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return "System.Byte[]";
  if (v instanceof PsScriptBlock) return v.text;
  if (v instanceof PsTypeRef) return v.name;
  if (v instanceof PsHashtable) return "System.Collections.Hashtable";
  if (v.toStringValue) return v.toStringValue();
  if (v.typeName === "System.Management.Automation.PSCustomObject") {
    return `@{${v
      .entries()
      .map(([k, x]) => `${k}=${toStr(x)}`)
      .join("; ")}}`;
  }
  return v.typeName;
}

export function toNumber(v: PsValue | undefined, what: string): number {
  if (typeof v === "number") return v;
  if (v === null || v === undefined) return 0;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (v instanceof PsEnum) return v.value;
  if (typeof v === "string") {
    const t = v.trim();
    const n = /^0x[0-9a-f]+$/i.test(t) ? parseInt(t, 16) : Number(t);
    if (t !== "" && Number.isFinite(n)) return n;
  }
  if (Array.isArray(v) && v.length === 1) return toNumber(v[0], what);
  throw new PsError(
    `Cannot convert value "${toStr(v)}" to type "${what}". Error: "Input string was not in a correct format."`,
    "System.Management.Automation.PSInvalidCastException",
    "InvalidCastFromStringToInteger",
    "InvalidArgument",
  );
}

/** Pipeline output flattening: arrays written to the pipeline are enumerated one level. */
export function enumerate(v: PsValue | undefined): PsValue[] {
  if (v === undefined) return [];
  if (Array.isArray(v)) return v;
  return [v];
}

/** What `$x = <pipeline>` stores: nothing -> $null, one item -> the item, more -> an array. */
export function collapse(items: PsValue[]): PsValue {
  if (items.length === 0) return null;
  if (items.length === 1) return items[0] ?? null;
  return items;
}
