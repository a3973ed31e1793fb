import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { PsGrammar } from "../../../simulators/hyperv/ps/grammar.js";
import { ALL_SCRIPTS } from "../../../adapters/hyperv/scripts.js";
import { buildInvocation, wrapScript } from "../../../adapters/hyperv/invocation.js";
import { HOSTILE_NAMES } from "./hostile.js";

let grammar: PsGrammar;
before(async () => {
  grammar = await PsGrammar.load();
});

describe("every script the adapter sends", () => {
  for (const script of ALL_SCRIPTS) {
    it(`"${script.name}" parses with the PowerShell grammar without ERROR nodes`, () => {
      const full = wrapScript(script.body, Buffer.from("{}").toString("base64"));
      assert.deepEqual(grammar.errors(full), []);
      assert.deepEqual(grammar.errors(buildInvocation(script.body, { node: "HV01" })), []);
    });
  }

  it("keeps hostile arguments out of the script text: only base64 sits between the constants", () => {
    for (const name of HOSTILE_NAMES) {
      const line = buildInvocation(ALL_SCRIPTS[0]?.body ?? "", { node: name, vmIds: [name] });
      assert.equal(line.includes("\n"), false);
      const m =
        /^& \(\[ScriptBlock\]::Create\(\[Text\.Encoding\]::UTF8\.GetString\(\[Convert\]::FromBase64String\('([A-Za-z0-9+/=]+)'\)\)\)\)$/.exec(
          line,
        );
      assert.ok(m?.[1], "the invocation is the fixed bootstrap around one base64 literal");
      const script = Buffer.from(m[1], "base64").toString("utf8");
      assert.equal(script.includes(name), false, "the name never appears in the script text");
      assert.deepEqual(grammar.errors(script), []);
    }
  });
});
