/**
 * A tree-walking interpreter for the PowerShell subset the Hyper-V adapter sends, over
 * tree-sitter-powershell syntax trees. Statements and pipelines live here; expressions in expr.ts.
 * Unknown commands, types and methods fail as PowerShell does, never silently.
 */
import type { SyntaxNode as Node } from "./syntax.js";
import { type BuiltinHost } from "./builtins.js";
import type { PsGrammar } from "./grammar.js";
import { assignTo, evalElement, evalExpression } from "./expr.js";
import { bindArguments, type CmdletDef } from "./binding.js";
import {
  PsError,
  PsObject,
  PsScriptBlock,
  ReturnSignal,
  collapse,
  enumerate,
  toBool,
  toStr,
  type PsValue,
} from "./values.js";

export class Scope {
  readonly #vars = new Map<string, PsValue>();
  constructor(readonly parent: Scope | undefined) {}

  get(name: string): PsValue | undefined {
    const key = name.toLowerCase();
    if (this.#vars.has(key)) return this.#vars.get(key);
    return this.parent?.get(name);
  }

  set(name: string, value: PsValue): void {
    this.#vars.set(name.toLowerCase(), value);
  }
}

class BreakSignal extends Error {}

export interface InterpreterHost extends BuiltinHost {
  readonly cmdlets: ReadonlyMap<string, CmdletDef>;
  /** Called before each cmdlet runs (fault injection: a hanging command). */
  beforeCommand?(name: string): Promise<void>;
}

export class Interpreter {
  readonly global = new Scope(undefined);

  constructor(
    readonly grammar: PsGrammar,
    readonly host: InterpreterHost,
  ) {
    this.global.set("ErrorActionPreference", "Continue");
  }

  parseScriptBlock(text: string): PsScriptBlock {
    const { root, errors } = this.grammar.syntax(text);
    if (errors.length > 0) {
      const e = errors[0];
      throw new PsError(
        `At line:${e?.line ?? 0} char:${e?.column ?? 0}\nUnexpected token '${e?.text ?? ""}' in expression or statement.`,
        "System.Management.Automation.ParseException",
        "UnexpectedToken",
        "ParserError",
      );
    }
    return new PsScriptBlock(root, text);
  }

  /**
   * Runs one top-level line of `-Command -` input like the console host: each statement's output is
   * written as it completes; an error is written to stderr and the next statement still runs (unless
   * $ErrorActionPreference is Stop).
   */
  async runTopLevel(text: string): Promise<void> {
    let block: PsScriptBlock;
    try {
      block = this.parseScriptBlock(text);
    } catch (err) {
      this.#writeError(asPsError(err));
      return;
    }
    for (const statement of topLevelStatements(block.body)) {
      try {
        const out = await this.runBlock(statement, this.global, true);
        for (const item of out) if (item !== null) this.host.writeStdout(toStr(item) + "\n");
      } catch (err) {
        this.#writeError(asPsError(err));
        if (toStr(this.global.get("ErrorActionPreference") ?? "").toLowerCase() === "stop") return;
      }
    }
  }

  #writeError(e: PsError): void {
    this.host.writeStderr(
      `${e.message}\n    + CategoryInfo          : ${e.category}: (:) [], ${e.exceptionType.split(".").pop() ?? ""}\n    + FullyQualifiedErrorId : ${e.errorId}\n \n`,
    );
  }

  /** Invokes a script block in `scope` and returns its output. */
  async invokeBlock(block: PsScriptBlock, scope: Scope, dollarUnder?: PsValue): Promise<PsValue[]> {
    if (dollarUnder !== undefined) scope.set("_", dollarUnder);
    return this.runBlock(block.body, scope);
  }

  async runBlock(node: Node, scope: Scope, single = false): Promise<PsValue[]> {
    try {
      return single ? await this.statement(node, scope) : await this.statements(node, scope);
    } catch (sig) {
      if (sig instanceof ReturnSignal) return sig.output;
      throw sig;
    }
  }

  /** Evaluates every statement under `node` (program, statement_list, script_block...). */
  async statements(node: Node, scope: Scope): Promise<PsValue[]> {
    const out: PsValue[] = [];
    for (const child of node.namedChildren) {
      switch (child.type) {
        case "statement_list":
        case "script_block_body":
        case "statement_block":
        case "script_block":
          out.push(...(await this.statements(child, scope)));
          break;
        case "param_block":
          throw new PsError("param blocks are not supported by this host.");
        default:
          try {
            out.push(...(await this.statement(child, scope)));
          } catch (sig) {
            if (sig instanceof ReturnSignal) throw new ReturnSignal([...out, ...sig.output]);
            throw sig;
          }
      }
    }
    return out;
  }

  async statement(node: Node, scope: Scope): Promise<PsValue[]> {
    switch (node.type) {
      case "empty_statement":
      case "comment":
        return [];
      case "pipeline":
        return this.pipeline(node, scope);
      case "if_statement":
        return this.ifStatement(node, scope);
      case "foreach_statement":
        return this.foreachStatement(node, scope);
      case "while_statement":
        return this.whileStatement(node, scope);
      case "try_statement":
        return this.tryStatement(node, scope);
      case "flow_control_statement":
        return this.flowControl(node, scope);
      default:
        throw new PsError(
          `The statement '${node.type}' is not supported by this host.`,
          "System.NotSupportedException",
          "NotSupported",
        );
    }
  }

  async pipeline(node: Node, scope: Scope): Promise<PsValue[]> {
    const first = node.namedChildren[0];
    if (!first) return [];
    if (first.type === "assignment_expression") {
      await this.assignment(first, scope);
      return [];
    }
    let out: PsValue[] = [];
    for (const chain of node.namedChildren) {
      if (chain.type !== "pipeline_chain") throw new PsError(`Unexpected '${chain.type}' in a pipeline.`);
      out = await this.pipelineChain(chain, scope);
    }
    return out;
  }

  async pipelineChain(chain: Node, scope: Scope): Promise<PsValue[]> {
    let items: PsValue[] = [];
    let first = true;
    for (const element of chain.namedChildren) {
      if (element.type === "command") {
        items = await this.command(element, scope, items, !first);
      } else {
        items = enumerate(await evalElement(this, element, scope));
      }
      first = false;
    }
    return items;
  }

  async command(node: Node, scope: Scope, input: PsValue[], hasInput: boolean): Promise<PsValue[]> {
    const nameNode = node.childForFieldName("command_name");
    const elements = node.childForFieldName("command_elements");
    if (!nameNode) throw new PsError("Missing command name.");
    if (nameNode.type === "command_name_expr") {
      // `& { ... }` / `& ([ScriptBlock]::Create(...))`: invoke a script block in a child scope.
      const target = nameNode.namedChildren[0];
      const value =
        target?.type === "script_block"
          ? new PsScriptBlock(target, target.text)
          : target
            ? collapse(await this.pipelineOrExpr(target, scope))
            : null;
      if (!(value instanceof PsScriptBlock)) {
        throw new PsError(
          `The expression after '&' in a pipeline element produced an object that was not valid. It must result in a command name, a script block, or a CommandInfo object.`,
          "System.Management.Automation.RuntimeException",
          "BadExpression",
        );
      }
      const child = new Scope(scope);
      child.set("input", input);
      return this.invokeBlock(value, child);
    }
    const name = nameNode.text;
    const def = this.host.cmdlets.get(name.toLowerCase());
    if (!def) {
      throw new PsError(
        `The term '${name}' is not recognized as the name of a cmdlet, function, script file, or operable program. Check the spelling of the name, or if a path was included, verify that the path is correct and try again.`,
        "System.Management.Automation.CommandNotFoundException",
        "CommandNotFoundException",
        "ObjectNotFound",
      );
    }
    const params = await bindArguments(this, def, name, elements, scope);
    await this.host.beforeCommand?.(name);
    const errorAction = toStr(
      params.get("erroraction") ?? scope.get("ErrorActionPreference") ?? "Continue",
    ).toLowerCase();
    try {
      return await def.run({ name, params, input, hasInput, interp: this, scope });
    } catch (err) {
      if (err instanceof PsError && !err.terminating) {
        if (errorAction === "silentlycontinue" || errorAction === "ignore") return [];
        if (errorAction === "stop")
          throw new PsError(err.message, err.exceptionType, err.errorId, err.category, true);
        this.host.writeStderr(`${name} : ${err.message}\n`);
        return [];
      }
      throw err;
    }
  }

  /**
   * The value a statement gives to an assignment or hash entry: a lone expression keeps its value
   * (`$x = @(1)` is an array), a command pipeline's output is collected.
   */
  async valueOf(node: Node, scope: Scope): Promise<PsValue> {
    const chains = node.type === "pipeline" ? node.namedChildren : [];
    const only = chains.length === 1 && chains[0]?.type === "pipeline_chain" ? chains[0].namedChildren : [];
    if (only.length === 1 && only[0] && only[0].type !== "command") {
      return (await evalExpression(this, only[0], scope)) ?? null;
    }
    return collapse(await this.statement(node, scope));
  }

  async pipelineOrExpr(node: Node, scope: Scope): Promise<PsValue[]> {
    if (node.type === "pipeline") return this.pipeline(node, scope);
    return enumerate(await evalExpression(this, node, scope));
  }

  async assignment(node: Node, scope: Scope): Promise<void> {
    const [left, op, right] = node.namedChildren;
    if (!left || !op || !right) throw new PsError("Incomplete assignment.");
    const value = await this.valueOf(right, scope);
    await assignTo(this, left, op.text, value, scope);
  }

  async ifStatement(node: Node, scope: Scope): Promise<PsValue[]> {
    const cond = node.childForFieldName("condition");
    const blocks = node.namedChildren.filter((c) => c.type === "statement_block");
    if (cond && toBool(collapse(await this.pipeline(cond, scope))))
      return this.statements(blocks[0] ?? node, scope);
    for (const clause of node.childForFieldName("elseif_clauses")?.namedChildren ?? []) {
      const c =
        clause.childForFieldName("condition") ?? clause.namedChildren.find((n) => n.type === "pipeline");
      const body = clause.namedChildren.find((n) => n.type === "statement_block");
      if (c && body && toBool(collapse(await this.pipeline(c, scope)))) return this.statements(body, scope);
    }
    const elseBlock = node
      .childForFieldName("else_clause")
      ?.namedChildren.find((n) => n.type === "statement_block");
    return elseBlock ? this.statements(elseBlock, scope) : [];
  }

  async foreachStatement(node: Node, scope: Scope): Promise<PsValue[]> {
    const variable = node.namedChildren.find((n) => n.type === "variable");
    const source = node.namedChildren.find((n) => n.type === "pipeline");
    const body = node.namedChildren.find((n) => n.type === "statement_block");
    if (!variable || !source || !body) throw new PsError("Incomplete foreach statement.");
    const out: PsValue[] = [];
    for (const item of enumerate(collapse(await this.pipeline(source, scope)))) {
      scope.set(variableName(variable), item);
      try {
        out.push(...(await this.statements(body, scope)));
      } catch (sig) {
        if (sig instanceof BreakSignal) break;
        throw sig;
      }
    }
    return out;
  }

  async whileStatement(node: Node, scope: Scope): Promise<PsValue[]> {
    const cond = node.childForFieldName("condition")?.namedChildren[0];
    const body = node.namedChildren.find((n) => n.type === "statement_block");
    if (!cond || !body) throw new PsError("Incomplete while statement.");
    const out: PsValue[] = [];
    let guard = 0;
    while (toBool(collapse(await this.pipeline(cond, scope)))) {
      if (++guard > 100_000) throw new PsError("while loop ran more than 100000 times in the simulator.");
      try {
        out.push(...(await this.statements(body, scope)));
      } catch (sig) {
        if (sig instanceof BreakSignal) break;
        throw sig;
      }
    }
    return out;
  }

  async tryStatement(node: Node, scope: Scope): Promise<PsValue[]> {
    const body = node.namedChildren.find((n) => n.type === "statement_block");
    const catchBody = node.namedChildren
      .find((n) => n.type === "catch_clauses")
      ?.namedChildren[0]?.namedChildren.find((n) => n.type === "statement_block");
    const finallyBody = node.namedChildren.find((n) => n.type === "finally_clause")?.namedChildren[0];
    try {
      return await this.statements(body ?? node, scope);
    } catch (err) {
      if (err instanceof ReturnSignal || err instanceof BreakSignal || !catchBody) throw err;
      scope.set("_", errorRecord(asPsError(err)));
      return await this.statements(catchBody, scope);
    } finally {
      if (finallyBody) await this.statements(finallyBody, scope);
    }
  }

  async flowControl(node: Node, scope: Scope): Promise<PsValue[]> {
    const keyword = node.children[0]?.text.toLowerCase();
    const operand = node.namedChildren.find((n) => n.type === "pipeline");
    const value = operand ? collapse(await this.pipeline(operand, scope)) : null;
    switch (keyword) {
      case "return":
        throw new ReturnSignal(value === null && !operand ? [] : enumerate(value));
      case "throw":
        throw new PsError(
          value === null ? "ScriptHalted" : toStr(value),
          "System.Management.Automation.RuntimeException",
          value === null ? "ScriptHalted" : toStr(value),
          "OperationStopped",
        );
      case "break":
        throw new BreakSignal();
      default:
        throw new PsError(`'${keyword ?? ""}' is not supported by this host.`);
    }
  }
}

function topLevelStatements(root: Node): Node[] {
  const out: Node[] = [];
  for (const child of root.namedChildren) {
    if (child.type === "statement_list") out.push(...topLevelStatements(child));
    else out.push(child);
  }
  return out;
}

export function variableName(node: Node): string {
  const t = node.text;
  if (t.startsWith("${") && t.endsWith("}")) return t.slice(2, -1);
  return t.replace(/^[$@]/, "");
}

export function asPsError(err: unknown): PsError {
  if (err instanceof PsError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new PsError(message, "System.Exception", "System.Exception");
}

/** `$_` inside catch: an ErrorRecord with Exception, FullyQualifiedErrorId and CategoryInfo. */
export function errorRecord(e: PsError): PsObject {
  const exception = new PsObject(e.exceptionType, { Message: e.message });
  exception.method(
    "GetType",
    () =>
      new PsObject("System.RuntimeType", {
        FullName: e.exceptionType,
        Name: e.exceptionType.split(".").pop() ?? "",
      }),
  );
  const record = new PsObject("System.Management.Automation.ErrorRecord", {
    Exception: exception,
    FullyQualifiedErrorId: e.errorId,
    CategoryInfo: new PsObject("System.Management.Automation.ErrorCategoryInfo", { Category: e.category }),
  });
  record.toStringValue = () => e.message;
  return record;
}
