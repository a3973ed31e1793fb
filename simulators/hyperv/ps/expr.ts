/** Expression evaluation and assignment over tree-sitter-powershell nodes. */
import type { SyntaxNode as Node } from "./syntax.js";
import {
  callMethod,
  callStatic,
  cast,
  getMember,
  resolveTypeName,
  setMember,
  staticMember,
} from "./builtins.js";
import type { Interpreter, Scope } from "./interp.js";
import { variableName } from "./interp.js";
import { arithmetic, compare } from "./ops.js";
import {
  PsError,
  PsHashtable,
  PsScriptBlock,
  PsTypeRef,
  collapse,
  toBool,
  toNumber,
  toStr,
  type PsValue,
} from "./values.js";

/** Wrapper nodes of the grammar's precedence ladder: one operand, or `left op right`. */
const BINARY = new Set([
  "logical_expression",
  "bitwise_expression",
  "comparison_expression",
  "additive_expression",
  "multiplicative_expression",
  "format_expression",
  "range_expression",
  "logical_argument_expression",
  "bitwise_argument_expression",
  "comparison_argument_expression",
  "additive_argument_expression",
  "multiplicative_argument_expression",
  "format_argument_expression",
  "range_argument_expression",
]);

const PASS = new Set([
  "unary_expression",
  "argument_expression",
  "left_assignment_expression",
  "key_expression",
]);

export async function evalExpression(interp: Interpreter, node: Node, scope: Scope): Promise<PsValue> {
  return (await evalElement(interp, node, scope)) ?? null;
}

/** Like evalExpression, but a void method call gives `undefined` (no pipeline output). */
export async function evalElement(
  interp: Interpreter,
  node: Node,
  scope: Scope,
): Promise<PsValue | undefined> {
  if (BINARY.has(node.type)) return binary(interp, node, scope);
  if (PASS.has(node.type)) {
    const only = node.namedChildren[0];
    if (!only) throw new PsError(`Empty ${node.type}.`);
    return evalExpression(interp, only, scope);
  }
  switch (node.type) {
    case "array_literal_expression": {
      const parts = node.namedChildren;
      if (parts.length === 1 && parts[0]) return evalExpression(interp, parts[0], scope);
      const out: PsValue[] = [];
      for (const p of parts) out.push(await evalExpression(interp, p, scope));
      return out;
    }
    case "variable":
      return variable(node, scope);
    case "integer_literal":
    case "real_literal":
      return numberLiteral(node.text);
    case "string_literal":
      return stringLiteral(interp, node, scope);
    case "simple_name":
    case "generic_token":
      return node.text;
    case "type_literal":
      return new PsTypeRef(resolveTypeName(typeName(node)));
    case "expression_with_unary_operator":
      return unary(interp, node, scope);
    case "cast_expression": {
      const [type, operand] = node.namedChildren;
      if (!type || !operand) throw new PsError("Incomplete cast.");
      return cast(typeName(type), await evalExpression(interp, operand, scope));
    }
    case "parenthesized_expression": {
      const inner = node.namedChildren[0];
      return inner ? collapse(await interp.pipelineOrExpr(inner, scope)) : null;
    }
    case "sub_expression": {
      return collapse(await interp.statements(node, scope));
    }
    case "array_expression": {
      return interp.statements(node, scope);
    }
    case "script_block_expression": {
      const block = node.namedChildren[0];
      if (!block) throw new PsError("Empty script block.");
      return new PsScriptBlock(block, block.text);
    }
    case "hash_literal_expression":
      return hashLiteral(interp, node, scope);
    case "member_access":
      return memberAccess(interp, node, scope);
    case "invokation_expression":
      return invocation(interp, node, scope);
    case "element_access": {
      const [target, index] = node.namedChildren;
      if (!target || !index) throw new PsError("Incomplete index expression.");
      const t = await evalExpression(interp, target, scope);
      const key = await evalExpression(interp, index, scope);
      // A hashtable is indexed by its key (any type, compared as text); everything else by position.
      if (t instanceof PsHashtable) return t.get(toStr(key)) ?? null;
      if (t === null)
        throw new PsError(
          "Cannot index into a null array.",
          "System.Management.Automation.RuntimeException",
          "NullArray",
        );
      const i = toNumber(key, "System.Int32");
      if (Array.isArray(t)) return t[i < 0 ? t.length + i : i] ?? null;
      if (t instanceof Uint8Array) return t[i] ?? null;
      return i === 0 ? t : null;
    }
    case "pipeline":
      return collapse(await interp.pipeline(node, scope));
  }
  throw new PsError(
    `The expression '${node.type}' is not supported by this host.`,
    "System.NotSupportedException",
    "NotSupported",
  );
}

function typeName(typeLiteral: Node): string {
  return typeLiteral.text.replace(/^\[|\]$/g, "").trim();
}

function variable(node: Node, scope: Scope): PsValue {
  const name = variableName(node).toLowerCase();
  if (name === "true") return true;
  if (name === "false") return false;
  if (name === "null") return null;
  // Strict mode is off in the scripts' hosts: an unset variable is $null.
  return scope.get(name) ?? null;
}

function numberLiteral(text: string): number {
  const m = /^(0x[0-9a-f]+|[0-9.]+(?:e[+-]?\d+)?)(l|d)?(kb|mb|gb|tb|pb)?$/i.exec(text);
  if (!m?.[1]) throw new PsError(`The number literal '${text}' is not supported by this host.`);
  const base = /^0x/i.test(m[1]) ? parseInt(m[1], 16) : Number(m[1]);
  const mult =
    { kb: 2 ** 10, mb: 2 ** 20, gb: 2 ** 30, tb: 2 ** 40, pb: 2 ** 50 }[m[3]?.toLowerCase() ?? ""] ?? 1;
  return base * mult;
}

async function stringLiteral(interp: Interpreter, node: Node, scope: Scope): Promise<PsValue> {
  const inner = node.namedChildren[0];
  if (!inner) return "";
  if (inner.type === "verbatim_string_characters") return inner.text.slice(1, -1).replace(/''/g, "'");
  if (inner.type !== "expandable_string_literal") {
    throw new PsError(`Here-strings are not supported by this host.`);
  }
  // The grammar does not expose the literal pieces as children: take them from the text between
  // the variable / sub-expression children.
  const text = inner.text;
  const base = inner.startIndex;
  let out = "";
  let pos = 1;
  for (const part of inner.namedChildren) {
    out += unescapeExpandable(text.slice(pos, part.startIndex - base));
    if (part.type === "variable") out += toStr(variable(part, scope));
    else if (part.type === "sub_expression") out += toStr(await evalExpression(interp, part, scope));
    pos = part.endIndex - base;
  }
  out += unescapeExpandable(text.slice(pos, text.length - 1));
  return out;
}

const BACKTICK: Record<string, string> = {
  n: "\n",
  r: "\r",
  t: "\t",
  "0": "\0",
  a: "\x07",
  b: "\b",
  f: "\f",
  v: "\v",
};

function unescapeExpandable(t: string): string {
  return t.replace(/""/g, '"').replace(/`(.)/gs, (_, c: string) => BACKTICK[c] ?? c);
}

async function unary(interp: Interpreter, node: Node, scope: Scope): Promise<PsValue> {
  const op = node.children[0];
  const operand = node.namedChildren[node.namedChildren.length - 1];
  if (!op || !operand) throw new PsError("Incomplete unary expression.");
  if (op.type === "cast_expression") return evalExpression(interp, op, scope);
  const v = await evalExpression(interp, operand, scope);
  switch (op.text.toLowerCase()) {
    case "-not":
    case "!":
      return !toBool(v);
    case "-":
      return -toNumber(v, "System.Int32");
    case "+":
      return toNumber(v, "System.Int32");
    case ",":
      return [v];
  }
  throw new PsError(`The operator '${op.text}' is not supported by this host.`);
}

async function binary(interp: Interpreter, node: Node, scope: Scope): Promise<PsValue> {
  const kids = node.children;
  if (kids.length === 1 && kids[0]) return evalExpression(interp, kids[0], scope);
  const [l, opNode, r] = kids;
  if (!l || !opNode || !r || kids.length !== 3) throw new PsError(`Malformed ${node.type}.`);
  const op = opNode.text.toLowerCase();
  if (op === "-and" || op === "-or") {
    const left = toBool(await evalExpression(interp, l, scope));
    if (op === "-and" && !left) return false;
    if (op === "-or" && left) return true;
    return toBool(await evalExpression(interp, r, scope));
  }
  const left = await evalExpression(interp, l, scope);
  const right = await evalExpression(interp, r, scope);
  if (node.type.startsWith("comparison")) return compare(op, left, right);
  if (op === "..") {
    const a = toNumber(left, "System.Int32");
    const b = toNumber(right, "System.Int32");
    const out: number[] = [];
    for (let i = a; a <= b ? i <= b : i >= b; i += a <= b ? 1 : -1) out.push(i);
    return out;
  }
  if (["+", "-", "*", "/", "%"].includes(op)) return arithmetic(op, left, right);
  throw new PsError(`The operator '${opNode.text}' is not supported by this host.`);
}

async function hashLiteral(interp: Interpreter, node: Node, scope: Scope): Promise<PsHashtable> {
  const table = new PsHashtable();
  const body = node.namedChildren[0];
  for (const entry of body?.namedChildren ?? []) {
    if (entry.type !== "hash_entry") continue;
    const [keyNode, valueNode] = entry.namedChildren;
    if (!keyNode || !valueNode) throw new PsError("Incomplete hash literal entry.");
    const key = toStr(await evalExpression(interp, keyNode, scope));
    table.set(key, await interp.valueOf(valueNode, scope));
  }
  return table;
}

function memberNameOf(node: Node | undefined): string {
  if (!node) throw new PsError("Missing member name.");
  return node.text.replace(/^['"]|['"]$/g, "");
}

async function memberAccess(interp: Interpreter, node: Node, scope: Scope): Promise<PsValue> {
  const [target, member] = node.namedChildren;
  if (!target) throw new PsError("Missing member target.");
  const t = await evalExpression(interp, target, scope);
  const name = memberNameOf(member);
  if (t instanceof PsTypeRef) return staticMember(t, name, interp.host);
  return getMember(t, name);
}

async function invocation(interp: Interpreter, node: Node, scope: Scope): Promise<PsValue | undefined> {
  const [target, member, argList] = node.namedChildren;
  if (!target || !argList) throw new PsError("Unsupported method invocation.");
  const t = await evalExpression(interp, target, scope);
  const args: PsValue[] = [];
  for (const a of argList.namedChildren[0]?.namedChildren ?? [])
    args.push(await evalExpression(interp, a, scope));
  const name = memberNameOf(member);
  if (t instanceof PsTypeRef) return callStatic(t, name, args, interp.host);
  return callMethod(t, name, args);
}

export async function assignTo(
  interp: Interpreter,
  left: Node,
  op: string,
  value: PsValue,
  scope: Scope,
): Promise<void> {
  let target = left;
  while (
    (BINARY.has(target.type) || PASS.has(target.type) || target.type === "array_literal_expression") &&
    target.namedChildren.length === 1
  ) {
    const only = target.namedChildren[0];
    if (!only) break;
    target = only;
  }
  const combine = async (current: () => Promise<PsValue>): Promise<PsValue> => {
    if (op === "=") return value;
    if (op === "+=") return arithmetic("+", await current(), value);
    if (op === "-=") return arithmetic("-", await current(), value);
    throw new PsError(`The assignment operator '${op}' is not supported by this host.`);
  };
  if (target.type === "variable") {
    const name = variableName(target);
    scope.set(name, await combine(async () => scope.get(name) ?? null));
    return;
  }
  if (target.type === "member_access") {
    const [objNode, member] = target.namedChildren;
    if (!objNode) throw new PsError("Missing member target.");
    const obj = await evalExpression(interp, objNode, scope);
    const name = memberNameOf(member);
    setMember(obj, name, await combine(async () => getMember(obj, name)));
    return;
  }
  if (target.type === "element_access") {
    // $table[$key] = value; $array[$i] = value (PowerShell's index assignment).
    const [objNode, indexNode] = target.namedChildren;
    if (!objNode || !indexNode) throw new PsError("Incomplete index expression.");
    const obj = await evalExpression(interp, objNode, scope);
    const index = await evalExpression(interp, indexNode, scope);
    if (obj instanceof PsHashtable) {
      const key = toStr(index);
      obj.set(key, await combine(async () => obj.get(key) ?? null));
      return;
    }
    if (Array.isArray(obj)) {
      const i = toNumber(index, "System.Int32");
      const at = i < 0 ? obj.length + i : i;
      if (at < 0 || at >= obj.length)
        throw new PsError(
          "Index was outside the bounds of the array.",
          "System.IndexOutOfRangeException",
          "IndexOutOfRange",
        );
      obj[at] = await combine(async () => obj[at] ?? null);
      return;
    }
    throw new PsError(
      "Cannot index into a null array.",
      "System.Management.Automation.RuntimeException",
      "NullArray",
    );
  }
  throw new PsError(
    `The assignment expression is not valid. The input to an assignment operator must be an object that is able to accept assignments, such as a variable or a property.`,
    "System.Management.Automation.RuntimeException",
    "InvalidLeftHandSide",
  );
}
