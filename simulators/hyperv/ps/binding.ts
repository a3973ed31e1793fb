/**
 * Cmdlet definitions and parameter binding: named parameters (`-Name value`, `-Name:value`), switches,
 * positional arguments and the common parameters. Unknown parameters fail like PowerShell's binder.
 */
import type { SyntaxNode as Node } from "./syntax.js";
import type { Interpreter, Scope } from "./interp.js";
import { evalExpression } from "./expr.js";
import { PsError, toStr, type PsValue } from "./values.js";

export interface CmdletCall {
  readonly name: string;
  /** Bound parameters by lower-case name; switches bind `true`. */
  readonly params: ReadonlyMap<string, PsValue>;
  readonly input: PsValue[];
  /** True when the command is not the first element of its pipeline. */
  readonly hasInput: boolean;
  readonly interp: Interpreter;
  readonly scope: Scope;
}

export interface CmdletDef {
  /** Parameter names taking a value (original casing, for messages). */
  readonly params: readonly string[];
  readonly switches?: readonly string[];
  /** Parameter names bound by position, in order. */
  readonly positional?: readonly string[];
  run(call: CmdletCall): Promise<PsValue[]>;
}

const COMMON = ["ErrorAction", "WarningAction", "InformationAction", "ErrorVariable", "OutVariable"];
const COMMON_SWITCHES = ["Verbose", "Debug"];

function parameterNotFound(cmdlet: string, param: string): PsError {
  return new PsError(
    `${cmdlet} : A parameter cannot be found that matches parameter name '${param}'.`,
    "System.Management.Automation.ParameterBindingException",
    `NamedParameterNotFound,${cmdlet}`,
    "InvalidArgument",
  );
}

export async function bindArguments(
  interp: Interpreter,
  def: CmdletDef,
  cmdlet: string,
  elements: Node | null,
  scope: Scope,
): Promise<Map<string, PsValue>> {
  const names = new Map<string, string>();
  for (const p of [...def.params, ...COMMON]) names.set(p.toLowerCase(), "value");
  for (const s of [...(def.switches ?? []), ...COMMON_SWITCHES]) names.set(s.toLowerCase(), "switch");
  const bound = new Map<string, PsValue>();
  const positional: PsValue[] = [];
  const items = (elements?.namedChildren ?? []).filter((n) => n.type !== "command_argument_sep");
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (!item) continue;
    if (item.type === "command_parameter") {
      const raw = item.text.replace(/^-/, "");
      const colon = raw.endsWith(":");
      const name = colon ? raw.slice(0, -1) : raw;
      const kind = names.get(name.toLowerCase());
      if (!kind) throw parameterNotFound(cmdlet, name);
      if (kind === "switch" && !colon) {
        bound.set(name.toLowerCase(), true);
        continue;
      }
      const next = items[i + 1];
      if (!next || next.type === "command_parameter") {
        throw new PsError(
          `${cmdlet} : Missing an argument for parameter '${name}'. Specify a parameter of type 'System.Object' and try again.`,
          "System.Management.Automation.ParameterBindingException",
          `MissingArgument,${cmdlet}`,
          "InvalidArgument",
        );
      }
      bound.set(name.toLowerCase(), await argumentValue(interp, next, scope));
      i++;
      continue;
    }
    positional.push(await argumentValue(interp, item, scope));
  }
  const slots = (def.positional ?? []).filter((p) => !bound.has(p.toLowerCase()));
  for (const [index, value] of positional.entries()) {
    const slot = slots[index];
    if (!slot) {
      throw new PsError(
        `${cmdlet} : A positional parameter cannot be found that accepts argument '${toStr(value)}'.`,
        "System.Management.Automation.ParameterBindingException",
        `PositionalParameterNotFound,${cmdlet}`,
        "InvalidArgument",
      );
    }
    bound.set(slot.toLowerCase(), value);
  }
  return bound;
}

async function argumentValue(interp: Interpreter, node: Node, scope: Scope): Promise<PsValue> {
  // Bare words in argument mode are strings (`-ErrorAction Stop`).
  if (node.type === "generic_token") return node.text;
  return evalExpression(interp, node, scope);
}
