import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { PsGrammar } from "../../../simulators/hyperv/ps/grammar.js";
import { Interpreter } from "../../../simulators/hyperv/ps/interp.js";
import { coreCmdlets } from "../../../simulators/hyperv/ps/cmdlets-core.js";
import type { CmdletDef } from "../../../simulators/hyperv/ps/binding.js";

let grammar: PsGrammar;
before(async () => {
  grammar = await PsGrammar.load();
});

async function run(script: string): Promise<{ out: string; err: string }> {
  let out = "";
  let err = "";
  const cmdlets = new Map<string, CmdletDef>(
    Object.entries(coreCmdlets).map(([k, v]) => [k.toLowerCase(), v]),
  );
  const interp: Interpreter = new Interpreter(grammar, {
    cmdlets,
    writeStdout: (t) => void (out += t),
    writeStderr: (t) => void (err += t),
    createScriptBlock: (t) => interp.parseScriptBlock(t),
  });
  await interp.runTopLevel(script);
  return { out, err };
}

describe("the simulator's PowerShell interpreter", () => {
  const cases: Array<[string, string]> = [
    ["ConvertTo-Json -InputObject @(1) -Compress", "[1]"],
    ["@(1) | ConvertTo-Json -Compress", "1"],
    ['ConvertTo-Json -InputObject @{ a = "x\'<>&" } -Compress', '{"a":"x\\u0027\\u003c\\u003e\\u0026"}'],
    ["$x = & { ,@(1) }; ConvertTo-Json -InputObject @{ v = $x } -Compress", '{"v":[1]}'],
    ["$x = ,@(1); ConvertTo-Json -InputObject @{ v = $x } -Compress", '{"v":[[1]]}'],
    ["1,2,3 | Where-Object { $_ -gt 1 } | ForEach-Object { $_ * 2 } | ConvertTo-Json -Compress", "[4,6]"],
    ["'a','b' -contains 'B'", "True"],
    ["'abc' -like 'A*'", "True"],
    ['$n = 5; "n=$n and $($n + 1)"', "n=5 and 6"],
    ["[Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('JChiYWQp'))", "$(bad)"],
    ["if ($null -eq $nothing) { 'empty' } else { 'set' }", "empty"],
    ["try { throw 'boom' } catch { $_.Exception.Message }", "boom"],
    ["$h = @{ Name = 'x' }; ([pscustomobject]$h).Name", "x"],
    ["$t = @{}; $t['AB-1'] = 5; $t['ab-1'] += 2; $t['Ab-1']", "7"],
    ["$t = @{}; 'x','y' | ForEach-Object { $t[$_] = $_.ToUpper() }; $t['y'] + $t['nope'] + $t['X']", "YX"],
    ["$a = @(1, 2, 3); $a[1] = 9; $a[-1] = 7; $a | ConvertTo-Json -Compress", "[1,9,7]"],
    ["$t = @{ k = @('p', $null, 'q') }; @($t['k'] | Where-Object { $null -ne $_ }).Count", "2"],
    ["try { $nothing[0] } catch { $_.Exception.Message }", "Cannot index into a null array."],
  ];
  for (const [script, expected] of cases) {
    it(`evaluates ${script}`, async () => {
      const r = await run(script);
      assert.equal(r.err, "");
      assert.equal(r.out.trim(), expected);
    });
  }

  it("refuses unknown commands with PowerShell's CommandNotFoundException", async () => {
    const r = await run("Format-Volume -DriveLetter C");
    assert.match(r.err, /The term 'Format-Volume' is not recognized as the name of a cmdlet/);
    assert.match(r.err, /CommandNotFoundException/);
  });

  it("refuses unknown .NET methods instead of guessing", async () => {
    const r = await run("[Convert]::ToHexString('x')");
    assert.match(r.err, /does not contain a method named 'ToHexString'/);
  });

  it("keeps a decoded string data: no evaluation of $() inside values", async () => {
    const payload = Buffer.from(JSON.stringify({ n: "$(Get-Secret)`;\n'\"" })).toString("base64");
    const r = await run(
      `$A = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('${payload}')) | ConvertFrom-Json; $A.n`,
    );
    assert.equal(r.err, "");
    assert.equal(r.out, "$(Get-Secret)`;\n'\"\n");
  });

  it("binds parameters strictly: an unknown parameter fails like the binder", async () => {
    const r = await run("ConvertTo-Json -InputObject 1 -Deep 3");
    assert.match(r.err, /A parameter cannot be found that matches parameter name 'Deep'/);
  });
});
