/** PowerShell operators over the value model: comparison with left-operand conversion, arithmetic. */
import { PsEnum, PsError, PsGuid, enumerate, toBool, toNumber, toStr, type PsValue } from "./values.js";

function likeToRegex(pattern: string): RegExp {
  let re = "";
  for (const ch of pattern) {
    if (ch === "*") re += ".*";
    else if (ch === "?") re += ".";
    else re += ch.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`, "is");
}

/** `left -eq right` for a scalar left operand: the right side is converted to the left's type. */
export function equals(left: PsValue, right: PsValue, caseSensitive = false): boolean {
  if (left === null) return right === null || (Array.isArray(right) && right.length === 0 && false);
  if (right === null) return false;
  if (typeof left === "string") {
    const r = toStr(right);
    return caseSensitive ? left === r : left.toLowerCase() === r.toLowerCase();
  }
  if (typeof left === "number") {
    if (typeof right === "string" && right.trim() === "") return false;
    try {
      return left === toNumber(right, "System.Double");
    } catch {
      return false;
    }
  }
  if (typeof left === "boolean") return left === toBool(right);
  if (left instanceof PsEnum) {
    if (typeof right === "string") return left.name.toLowerCase() === right.toLowerCase();
    if (right instanceof PsEnum) return left.value === right.value;
    return left.value === toNumber(right, left.typeName);
  }
  if (left instanceof PsGuid) return left.value === toStr(right).toLowerCase();
  if (left instanceof Date && right instanceof Date) return left.getTime() === right.getTime();
  return left === right;
}

function order(left: PsValue, right: PsValue): number {
  if (typeof left === "string") {
    const r = toStr(right);
    return left.toLowerCase() < r.toLowerCase() ? -1 : left.toLowerCase() > r.toLowerCase() ? 1 : 0;
  }
  if (left instanceof Date && right instanceof Date) return left.getTime() - right.getTime();
  return toNumber(left, "System.Double") - toNumber(right, "System.Double");
}

function scalarCompare(op: string, left: PsValue, right: PsValue): boolean {
  const name = operatorName(op);
  const cs = op.startsWith("-c") && name !== op.slice(1);
  switch (name) {
    case "eq":
      return equals(left, right, cs);
    case "ne":
      return !equals(left, right, cs);
    case "gt":
      return order(left, right) > 0;
    case "ge":
      return order(left, right) >= 0;
    case "lt":
      return order(left, right) < 0;
    case "le":
      return order(left, right) <= 0;
    case "like":
      return likeToRegex(toStr(right)).test(toStr(left));
    case "notlike":
      return !likeToRegex(toStr(right)).test(toStr(left));
    case "match":
      return new RegExp(toStr(right), cs ? "" : "i").test(toStr(left));
    case "notmatch":
      return !new RegExp(toStr(right), cs ? "" : "i").test(toStr(left));
    default:
      throw new PsError(`The operator '${op}' is not supported by this host.`);
  }
}

const OPERATORS = new Set([
  "eq",
  "ne",
  "gt",
  "ge",
  "lt",
  "le",
  "like",
  "notlike",
  "match",
  "notmatch",
  "in",
  "notin",
  "contains",
  "notcontains",
]);

/** "-ceq" -> "eq", "-contains" -> "contains": the i/c prefix only when what follows is an operator. */
export function operatorName(op: string): string {
  const bare = op.toLowerCase().replace(/^-/, "");
  if (OPERATORS.has(bare)) return bare;
  const stripped = bare.slice(1);
  if ((bare.startsWith("i") || bare.startsWith("c")) && OPERATORS.has(stripped)) return stripped;
  throw new PsError(`The operator '${op}' is not supported by this host.`);
}

export function compare(op: string, left: PsValue, right: PsValue): PsValue {
  const name = operatorName(op);
  if (name === "in" || name === "notin") {
    const found = enumerate(right).some((r) => equals(r, left));
    return name === "in" ? found : !found;
  }
  if (name === "contains" || name === "notcontains") {
    const found = enumerate(left).some((l) => equals(l, right));
    return name === "contains" ? found : !found;
  }
  if (Array.isArray(left)) return left.filter((l) => scalarCompare(op.toLowerCase(), l, right));
  return scalarCompare(op.toLowerCase(), left, right);
}

export function add(left: PsValue, right: PsValue): PsValue {
  if (left === null) return right;
  if (Array.isArray(left)) return [...left, ...(Array.isArray(right) ? right : [right])];
  if (typeof left === "string") return left + toStr(right);
  return toNumber(left, "System.Int32") + toNumber(right, "System.Int32");
}

export function arithmetic(op: string, left: PsValue, right: PsValue): PsValue {
  if (op === "+") return add(left, right);
  const l = toNumber(left, "System.Double");
  const r = toNumber(right, "System.Double");
  switch (op) {
    case "-":
      return l - r;
    case "*":
      return l * r;
    case "/":
      if (r === 0) throw new PsError("Attempted to divide by zero.", "System.DivideByZeroException");
      return l / r;
    case "%":
      return l % r;
    default:
      throw new PsError(`The operator '${op}' is not supported by this host.`);
  }
}
