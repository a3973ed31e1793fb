/** Engine cmdlets the adapter's scripts use: ForEach-Object, Where-Object, ConvertTo/From-Json, ... */
import type { CmdletCall, CmdletDef } from "./binding.js";
import { fromJson, toJson } from "./json.js";
import { getMember } from "./builtins.js";
import { PsError, PsScriptBlock, enumerate, toBool, toNumber, toStr, type PsValue } from "./values.js";

function block(call: CmdletCall, param: string): PsScriptBlock {
  const b = call.params.get(param.toLowerCase());
  if (!(b instanceof PsScriptBlock)) {
    throw new PsError(
      `${call.name} : Cannot bind parameter '${param}'. Cannot convert the value to type "System.Management.Automation.ScriptBlock".`,
      "System.Management.Automation.ParameterBindingException",
      `CannotConvertArgument,${call.name}`,
      "InvalidArgument",
    );
  }
  return b;
}

/** Pipeline input, or -InputObject (which is not enumerated, as in PowerShell). */
function inputs(call: CmdletCall): PsValue[] {
  if (call.params.has("inputobject")) return [call.params.get("inputobject") ?? null];
  return call.input;
}

export const coreCmdlets: Record<string, CmdletDef> = {
  "ForEach-Object": {
    params: ["Process", "InputObject"],
    positional: ["Process"],
    async run(call) {
      const b = block(call, "Process");
      const out: PsValue[] = [];
      // ForEach-Object runs its block in the caller's scope (assignments stay visible).
      for (const item of inputs(call)) out.push(...(await call.interp.invokeBlock(b, call.scope, item)));
      return out;
    },
  },
  "Where-Object": {
    params: ["FilterScript", "InputObject"],
    positional: ["FilterScript"],
    async run(call) {
      const b = block(call, "FilterScript");
      const out: PsValue[] = [];
      for (const item of inputs(call)) {
        const r = await call.interp.invokeBlock(b, call.scope, item);
        if (toBool(r.length === 1 ? (r[0] ?? null) : r)) out.push(item);
      }
      return out;
    },
  },
  "Select-Object": {
    params: ["First", "ExpandProperty", "InputObject"],
    async run(call) {
      let items = inputs(call);
      const first = call.params.get("first");
      if (first !== undefined) items = items.slice(0, toNumber(first, "System.Int32"));
      const expand = call.params.get("expandproperty");
      if (expand !== undefined) items = items.flatMap((i) => enumerate(getMember(i, toStr(expand))));
      return items;
    },
  },
  "ConvertTo-Json": {
    params: ["InputObject", "Depth"],
    switches: ["Compress"],
    positional: ["InputObject"],
    async run(call) {
      const depth = toNumber(call.params.get("depth") ?? 2, "System.Int32");
      if (call.params.has("inputobject")) return [toJson(call.params.get("inputobject") ?? null, depth)];
      // Pipeline input is collected; a single item is written alone, not as a one-element array.
      if (call.input.length === 0) return [];
      const value = call.input.length === 1 ? (call.input[0] ?? null) : call.input;
      return [toJson(value, depth)];
    },
  },
  "ConvertFrom-Json": {
    params: ["InputObject"],
    positional: ["InputObject"],
    async run(call) {
      const text = inputs(call)
        .map((x) => toStr(x))
        .join("\n");
      try {
        return enumerate(fromJson(text));
      } catch (err) {
        throw new PsError(
          `Invalid JSON primitive: ${(err as Error).message}`,
          "System.ArgumentException",
          "System.ArgumentException,Microsoft.PowerShell.Commands.ConvertFromJsonCommand",
          "NotSpecified",
        );
      }
    },
  },
  "Write-Output": {
    params: ["InputObject"],
    positional: ["InputObject"],
    async run(call) {
      return call.params.has("inputobject") ? enumerate(call.params.get("inputobject")) : call.input;
    },
  },
  "Out-Null": {
    params: ["InputObject"],
    async run() {
      return [];
    },
  },
  "Start-Sleep": {
    params: ["Seconds", "Milliseconds"],
    positional: ["Seconds"],
    // The simulator's jobs advance per poll, not per wall-clock second: sleeping is a no-op.
    async run() {
      return [];
    },
  },
};
