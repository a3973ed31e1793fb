/**
 * The real PowerShell grammar (tree-sitter-powershell, WASM) loaded once per process. The simulator
 * interprets its syntax trees; the adapter's tests parse every script the adapter can send with it.
 */
import { createRequire } from "node:module";
import v8 from "node:v8";
import { Language, Parser, type Node, type Tree } from "web-tree-sitter";
import { copyTree, type SyntaxNode } from "./syntax.js";

let loading: Promise<Language> | undefined;

function loadLanguage(): Promise<Language> {
  loading ??= (async () => {
    // The grammar's WASM has a huge parse-table function: V8's background tier-up to TurboFan then
    // burns ~20 s of CPU and holds process exit for over a minute. Liftoff code parses fast enough.
    v8.setFlagsFromString("--liftoff-only");
    await Parser.init();
    const require = createRequire(import.meta.url);
    return Language.load(require.resolve("tree-sitter-powershell/tree-sitter-powershell.wasm"));
  })();
  return loading;
}

export interface PsSyntaxError {
  readonly line: number;
  readonly column: number;
  readonly text: string;
}

const CACHED_TEXTS = 256;

export class PsGrammar {
  readonly #parser: Parser;
  readonly #cache = new Map<
    string,
    { readonly root: SyntaxNode; readonly errors: readonly PsSyntaxError[] }
  >();

  private constructor(parser: Parser) {
    this.#parser = parser;
  }

  static async load(): Promise<PsGrammar> {
    const language = await loadLanguage();
    const parser = new Parser();
    parser.setLanguage(language);
    return new PsGrammar(parser);
  }

  parse(text: string): Tree {
    const tree = this.#parser.parse(text);
    if (tree === null) throw new Error("tree-sitter returned no tree");
    return tree;
  }

  /**
   * The syntax tree of `text` as plain objects (syntax.ts) with its errors; the WebAssembly tree is
   * freed at once. The last few hundred texts are kept: the adapter sends the same scripts again.
   */
  syntax(text: string): { readonly root: SyntaxNode; readonly errors: readonly PsSyntaxError[] } {
    const hit = this.#cache.get(text);
    if (hit) {
      this.#cache.delete(text);
      this.#cache.set(text, hit);
      return hit;
    }
    const tree = this.parse(text);
    try {
      const errors: PsSyntaxError[] = [];
      collectErrors(tree.rootNode, errors);
      const parsed = { root: copyTree(tree, text), errors };
      this.#cache.set(text, parsed);
      if (this.#cache.size > CACHED_TEXTS) this.#cache.delete(this.#cache.keys().next().value!);
      return parsed;
    } finally {
      tree.delete();
    }
  }

  /** ERROR and MISSING nodes of a parse, with positions, for messages. */
  errors(text: string): PsSyntaxError[] {
    const tree = this.parse(text);
    try {
      const out: PsSyntaxError[] = [];
      collectErrors(tree.rootNode, out);
      return out;
    } finally {
      tree.delete();
    }
  }
}

function collectErrors(node: Node, out: PsSyntaxError[]): void {
  if (node.isError || node.isMissing) {
    out.push({
      line: node.startPosition.row + 1,
      column: node.startPosition.column + 1,
      text: node.text.slice(0, 60),
    });
    return;
  }
  if (!node.hasError) return;
  for (const child of node.children) if (child) collectErrors(child, out);
}
