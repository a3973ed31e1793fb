/**
 * PropertyCollector: object selection (ObjectSpec + TraversalSpec/SelectionSpec, skip), property
 * paths resolved through the vim25 type tables (`config.hardware.device`), unset properties left out,
 * unknown paths faulted with InvalidProperty, and paging by maxObjects with continuation tokens.
 */
import { randomUUID } from "node:crypto";
import { child, childrenOf, morefOf, textOf, xsiType, boolOf, type XNode } from "./soap-codec.js";
import { fieldsOf } from "./soap-codec.js";
import { isMoSubtype, type ManagedObject, type Prop } from "./inventory.js";
import { VIM_TYPES } from "./vim-types.generated.js";
import { MoRef, Typed, data, faults, isDataObject, type DataObject, type VimValue } from "./vim-value.js";

interface Traversal {
  readonly name: string | undefined;
  readonly type: string;
  readonly path: string;
  readonly skip: boolean;
  readonly selectSet: readonly Selection[];
}
type Selection = Traversal | { readonly ref: string };

export interface PropertySpec {
  readonly type: string;
  readonly all: boolean;
  readonly pathSet: readonly string[];
}
export interface ObjectSpec {
  readonly obj: MoRef;
  readonly skip: boolean;
  readonly selectSet: readonly Selection[];
}
export interface FilterSpec {
  readonly propSet: readonly PropertySpec[];
  readonly objectSet: readonly ObjectSpec[];
}

function parseSelection(n: XNode): Selection {
  const type = xsiType(n);
  const name = textOf(n, "name");
  if (type === "TraversalSpec" || child(n, "path")) {
    return {
      name,
      type: textOf(n, "type") ?? "",
      path: textOf(n, "path") ?? "",
      skip: boolOf(n, "skip") ?? false,
      selectSet: childrenOf(n, "selectSet").map(parseSelection),
    };
  }
  if (!name) throw faults.invalidArgument("selectSet", "SelectionSpec without a name");
  return { ref: name };
}

export function parseFilterSpec(n: XNode): FilterSpec {
  return {
    propSet: childrenOf(n, "propSet").map((p) => ({
      type: textOf(p, "type") ?? "",
      all: boolOf(p, "all") ?? false,
      pathSet: childrenOf(p, "pathSet").map((x) => x.text.trim()),
    })),
    objectSet: childrenOf(n, "objectSet").map((o) => {
      const obj = morefOf(child(o, "obj"));
      if (!obj) throw faults.invalidArgument("objectSet.obj");
      return {
        obj,
        skip: boolOf(o, "skip") ?? false,
        selectSet: childrenOf(o, "selectSet").map(parseSelection),
      };
    }),
  };
}

export interface Resolver {
  get(ref: MoRef): ManagedObject | undefined;
}

/** Objects selected by one ObjectSpec, in traversal order. */
function select(spec: ObjectSpec, model: Resolver): ManagedObject[] {
  const named = new Map<string, Traversal>();
  const index = (sel: readonly Selection[]) => {
    for (const s of sel) {
      if ("path" in s) {
        if (s.name) named.set(s.name, s);
        index(s.selectSet);
      }
    }
  };
  index(spec.selectSet);
  const root = model.get(spec.obj);
  if (!root) throw faults.managedObjectNotFound(spec.obj);
  const out = new Map<string, ManagedObject>();
  const visited = new Set<string>();
  if (!spec.skip) out.set(root.ref.key, root);
  const walk = (obj: ManagedObject, sel: readonly Selection[]) => {
    for (const s of sel) {
      const t = "path" in s ? s : named.get(s.ref);
      if (!t || !isMoSubtype(obj.ref.type, t.type)) continue;
      const mark = `${obj.ref.key}|${t.name ?? t.path}`;
      if (visited.has(mark)) continue;
      visited.add(mark);
      const prop = obj.properties()[t.path];
      if (!prop) throw faults.invalidProperty(t.path);
      const value = prop[1];
      const refs = (Array.isArray(value) ? value : value === undefined ? [] : [value]).filter(
        (v): v is MoRef => v instanceof MoRef,
      );
      for (const r of refs) {
        const target = model.get(r);
        if (!target) continue;
        if (!t.skip) out.set(target.ref.key, target);
        walk(target, t.selectSet);
      }
    }
  };
  walk(root, spec.selectSet);
  return [...out.values()];
}

/** Resolves a dotted property path; undefined when some part is unset; throws InvalidProperty. */
export function resolvePath(props: Record<string, Prop>, path: string): Typed | undefined {
  const [head, ...rest] = path.split(".");
  const prop = props[head ?? ""];
  if (!prop) throw faults.invalidProperty(path);
  let [type, value] = prop;
  for (const part of rest) {
    if (type.endsWith("[]") || !VIM_TYPES[type]) throw faults.invalidProperty(path);
    const declared = fieldsOf(type).find(([n]) => n === part);
    if (!declared) {
      // The concrete type may add fields (VirtualDisk under VirtualDevice...): vSphere only allows the declared ones.
      throw faults.invalidProperty(path);
    }
    if (value === undefined) return undefined;
    const obj2 = value as DataObject;
    type = declared[2].includes("*") ? `${declared[1]}[]` : declared[1];
    value = isDataObject(obj2) ? obj2[part] : undefined;
  }
  if (value === undefined) return undefined;
  if (Array.isArray(value) && value.length === 0) return undefined;
  return new Typed(type, value);
}

function objectContent(obj: ManagedObject, specs: readonly PropertySpec[]): DataObject | undefined {
  const matching = specs.filter((p) => isMoSubtype(obj.ref.type, p.type));
  if (matching.length === 0) return undefined;
  const paths = new Set<string>();
  for (const p of matching) {
    if (p.all) for (const k of Object.keys(obj.properties())) paths.add(k);
    for (const x of p.pathSet) paths.add(x);
  }
  const propSet: DataObject[] = [];
  const props = obj.properties(); // built once per object, not once per path
  for (const path of paths) {
    const val = resolvePath(props, path);
    if (val !== undefined) propSet.push(data("DynamicProperty", { name: path, val }));
  }
  return data("ObjectContent", { obj: obj.ref, propSet });
}

/** All ObjectContents for the specs (deduplicated, in selection order). */
export function retrieve(specs: readonly FilterSpec[], model: Resolver): DataObject[] {
  const out: DataObject[] = [];
  const seen = new Set<string>();
  for (const spec of specs) {
    for (const os of spec.objectSet) {
      for (const obj of select(os, model)) {
        if (seen.has(obj.ref.key)) continue;
        const oc = objectContent(obj, spec.propSet);
        if (oc) {
          seen.add(obj.ref.key);
          out.push(oc);
        }
      }
    }
  }
  return out;
}

/** Continuation state of paged RetrievePropertiesEx results, per session. */
export class ResultPager {
  readonly #pending = new Map<string, { session: string; rest: DataObject[]; pageSize: number }>();

  page(session: string, objects: DataObject[], pageSize: number): DataObject | undefined {
    if (objects.length === 0) return undefined;
    const first = objects.slice(0, pageSize);
    const rest = objects.slice(pageSize);
    let token: string | undefined;
    if (rest.length) {
      token = randomUUID();
      this.#pending.set(token, { session, rest, pageSize });
    }
    return data("RetrieveResult", { token, objects: first });
  }

  /** The next page, as large as the first one was (maxObjects holds for the whole retrieval). */
  continue(session: string, token: string): DataObject | undefined {
    const p = this.#pending.get(token);
    if (!p || p.session !== session)
      throw faults.invalidArgument("token", `Unknown or expired token ${token}`);
    this.#pending.delete(token);
    return this.page(session, p.rest, p.pageSize);
  }

  cancel(token: string): void {
    this.#pending.delete(token);
  }

  dropSession(session: string): void {
    for (const [k, v] of this.#pending) if (v.session === session) this.#pending.delete(k);
  }
}

export type { VimValue };
