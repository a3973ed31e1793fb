import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Node } from "web-tree-sitter";
import { ALL_SCRIPTS } from "../../../adapters/hyperv/scripts.js";
import { wrapScript } from "../../../adapters/hyperv/invocation.js";
import { PsGrammar } from "../../../simulators/hyperv/ps/grammar.js";
import type { SyntaxNode } from "../../../simulators/hyperv/ps/syntax.js";

let grammar: PsGrammar;
before(async () => {
  grammar = await PsGrammar.load();
});

/** Every property the interpreter reads, node by node, compared with tree-sitter's own tree. */
function same(copy: SyntaxNode, node: Node, path: string): void {
  assert.equal(copy.type, node.type, path);
  assert.equal(copy.text, node.text, `${path} ${node.type}`);
  assert.equal(copy.isNamed, node.isNamed, path);
  assert.equal(copy.isMissing, node.isMissing, path);
  // Ours marks any ERROR or MISSING node and its ancestors: at least what tree-sitter marks.
  if (node.hasError) assert.ok(copy.hasError, path);
  assert.deepEqual(
    copy.startPosition,
    { row: node.startPosition.row, column: node.startPosition.column },
    path,
  );
  assert.equal(copy.children.length, node.childCount, path);
  assert.equal(copy.namedChildren.length, node.namedChildCount, path);
  for (const field of ["name", "value", "body", "condition", "left", "right", "operator", "command_name"]) {
    const a = copy.childForFieldName(field);
    const b = node.childForFieldName(field);
    assert.equal(a?.startIndex ?? null, b?.startIndex ?? null, `${path}.${field}`);
    assert.equal(a?.type ?? null, b?.type ?? null, `${path}.${field}`);
  }
  copy.children.forEach((c, i) => {
    assert.equal(c.parent, copy);
    same(c, node.child(i)!, `${path}/${i}`);
  });
}

describe("the interpreter's copy of a syntax tree", () => {
  const texts = [
    ...ALL_SCRIPTS.map((s) =>
      wrapScript(s.body, Buffer.from('{"node":"HV01","name":"wéb ✓"}').toString("base64")),
    ),
    "$x = 1 +\n", // an error and a missing node
    "Get-VM -Name 'a''b' | Where-Object { $_.State -eq 'Running' } | ForEach-Object { \"$($_.Name) ✓\" }",
  ];
  it("holds what tree-sitter's tree holds, for every script the adapter sends and for broken input", () => {
    for (const text of texts) {
      const tree = grammar.parse(text);
      try {
        same(grammar.syntax(text).root, tree.rootNode, "root");
      } finally {
        tree.delete();
      }
    }
  });

  it("reports the errors of a broken script and serves a text parsed before from its cache", () => {
    const broken = grammar.syntax("$x = 1 +\n");
    assert.ok(broken.errors.length > 0);
    assert.deepEqual(broken.errors, grammar.errors("$x = 1 +\n"));
    assert.equal(grammar.syntax("$x = 1 +\n"), broken);
  });
});
