import type { Tree } from "web-tree-sitter";

/**
 * A syntax tree copied out of tree-sitter's WebAssembly memory into plain objects, once per parse.
 * The interpreter walks trees many times (every loop iteration, every pipeline element); reading
 * tree-sitter's nodes crosses into WebAssembly on every property, which made an inventory of 1,000
 * VMs through the simulator take 11.6 s. The copy offers the part of tree-sitter's Node the
 * interpreter uses, and lets the WebAssembly tree be freed at once (it was never freed before).
 */
export class SyntaxNode {
  readonly type: string;
  readonly isNamed: boolean;
  readonly isMissing: boolean;
  readonly startIndex: number;
  readonly endIndex: number;
  readonly startPosition: { readonly row: number; readonly column: number };
  readonly children: SyntaxNode[] = [];
  readonly namedChildren: SyntaxNode[] = [];
  readonly fields: (string | null)[] = [];
  parent: SyntaxNode | null = null;
  /** This node or one below it is an ERROR or MISSING node. */
  hasError = false;
  readonly #source: string;

  constructor(
    source: string,
    type: string,
    isNamed: boolean,
    isMissing: boolean,
    startIndex: number,
    endIndex: number,
    startPosition: { row: number; column: number },
  ) {
    this.#source = source;
    this.type = type;
    this.isNamed = isNamed;
    this.isMissing = isMissing;
    this.startIndex = startIndex;
    this.endIndex = endIndex;
    this.startPosition = startPosition;
  }

  get text(): string {
    return this.#source.slice(this.startIndex, this.endIndex);
  }

  get isError(): boolean {
    return this.type === "ERROR";
  }

  childForFieldName(name: string): SyntaxNode | null {
    const i = this.fields.indexOf(name);
    return i === -1 ? null : (this.children[i] ?? null);
  }
}

/** Copies `tree` (parsed from `source`) into SyntaxNodes with a cursor: one visit per node. */
export function copyTree(tree: Tree, source: string): SyntaxNode {
  const cursor = tree.walk();
  try {
    const make = (): SyntaxNode => {
      const p = cursor.startPosition;
      return new SyntaxNode(
        source,
        cursor.nodeType,
        cursor.nodeIsNamed,
        cursor.nodeIsMissing,
        cursor.startIndex,
        cursor.endIndex,
        { row: p.row, column: p.column },
      );
    };
    const root = make();
    const visit = (node: SyntaxNode): void => {
      node.hasError = node.isError || node.isMissing;
      if (!cursor.gotoFirstChild()) return;
      do {
        const child = make();
        child.parent = node;
        node.children.push(child);
        node.fields.push(cursor.currentFieldName);
        if (child.isNamed) node.namedChildren.push(child);
        visit(child);
        if (child.hasError) node.hasError = true;
      } while (cursor.gotoNextSibling());
      cursor.gotoParent();
    };
    visit(root);
    return root;
  } finally {
    cursor.delete();
  }
}
