/**
 * CreateFilter + WaitForUpdatesEx: each session's filters are evaluated against the model; the
 * answer holds what changed since the version the client passes back (everything for ""), as
 * enter/modify/leave object updates with assign/remove property changes. With no change it waits
 * for the model to change, up to maxWaitSeconds (0: answer at once with nothing).
 */
import type { CallContext } from "./method-support.js";
import type { ManagedObject, Prop } from "./inventory.js";
import { parseFilterSpec, retrieve, type FilterSpec } from "./property-collector.js";
import { child, textOf, writeElement, type XNode } from "./soap-codec.js";
import type { Typed } from "./vim-value.js";
import { MoRef, VimFault, data, faults, type DataObject } from "./vim-value.js";

class PropertyFilter implements ManagedObject {
  constructor(
    readonly ref: MoRef,
    readonly spec: FilterSpec,
  ) {}
  properties(): Record<string, Prop> {
    return { partialUpdates: ["xsd:boolean", false] };
  }
}

type Snapshot = Map<string, Map<string, { xml: string; val: Typed }>>;

export class UpdateState {
  readonly #bySession = new Map<string, { version: number; seen: Map<string, Snapshot> }>();
  get(session: string) {
    let s = this.#bySession.get(session);
    if (!s) this.#bySession.set(session, (s = { version: 0, seen: new Map() }));
    return s;
  }
  drop(session: string): void {
    this.#bySession.delete(session);
  }
}

export function createFilter(ctx: CallContext, body: XNode): MoRef {
  const specNode = child(body, "spec");
  if (!specNode) throw faults.invalidArgument("spec");
  const spec = parseFilterSpec(specNode);
  retrieve([spec], ctx.model); // validates the spec now, as vCenter does
  const f = new PropertyFilter(
    new MoRef("PropertyFilter", `session[${ctx.session!.key}]${crypto.randomUUID()}`),
    spec,
  );
  ctx.model.register(f);
  ctx.session!.owned.add(f.ref.key);
  return f.ref;
}

function evaluate(ctx: CallContext, f: PropertyFilter): Snapshot {
  const snap: Snapshot = new Map();
  for (const oc of retrieve([f.spec], ctx.model)) {
    const props = new Map<string, { xml: string; val: Typed }>();
    for (const p of (oc["propSet"] as DataObject[] | undefined) ?? []) {
      const val = p["val"] as Typed;
      props.set(p["name"] as string, { xml: writeElement("v", "xsd:anyType", val), val });
    }
    snap.set((oc["obj"] as MoRef).key, props);
  }
  return snap;
}

function diff(filter: MoRef, before: Snapshot, after: Snapshot): DataObject | undefined {
  const updates: DataObject[] = [];
  for (const [key, props] of after) {
    const old = before.get(key);
    const changes: DataObject[] = [];
    for (const [name, v] of props) {
      if (old?.get(name)?.xml !== v.xml)
        changes.push(data("PropertyChange", { name, op: "assign", val: v.val }));
    }
    for (const name of old?.keys() ?? [])
      if (!props.has(name)) changes.push(data("PropertyChange", { name, op: "remove" }));
    if (!old || changes.length)
      updates.push(
        data("ObjectUpdate", { kind: old ? "modify" : "enter", obj: refOf(key), changeSet: changes }),
      );
  }
  for (const key of before.keys())
    if (!after.has(key)) updates.push(data("ObjectUpdate", { kind: "leave", obj: refOf(key) }));
  return updates.length ? data("PropertyFilterUpdate", { filter, objectSet: updates }) : undefined;
}

function refOf(key: string): MoRef {
  const i = key.indexOf(":");
  return new MoRef(key.slice(0, i), key.slice(i + 1));
}

export async function waitForUpdates(ctx: CallContext, body: XNode): Promise<DataObject | undefined> {
  const session = ctx.session!;
  const state = ctx.updates.get(session.key);
  const version = textOf(body, "version")?.trim() ?? "";
  if (version !== "" && version !== String(state.version)) {
    throw new VimFault("InvalidCollectorVersion", `Unknown version ${version}`);
  }
  const options = child(body, "options");
  const maxWait =
    options && textOf(options, "maxWaitSeconds") !== undefined
      ? Number(textOf(options, "maxWaitSeconds"))
      : 600;
  const deadline = Date.now() + Math.min(maxWait, 600) * 1000;
  for (;;) {
    const sets: DataObject[] = [];
    const next = new Map<string, Snapshot>();
    for (const key of session.owned) {
      const f = ctx.model.objects.get(key);
      if (!(f instanceof PropertyFilter)) continue;
      const now = evaluate(ctx, f);
      next.set(key, now);
      const before: Snapshot =
        (version === "" ? undefined : state.seen.get(key)) ??
        new Map<string, Map<string, { xml: string; val: Typed }>>();
      const u = diff(f.ref, before, now);
      if (u) sets.push(u);
    }
    if (sets.length || maxWait === 0 || Date.now() >= deadline) {
      if (!sets.length) return undefined;
      state.version += 1;
      state.seen = next;
      return data("UpdateSet", { version: String(state.version), filterSet: sets });
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
      const off = ctx.model.onChange(done);
      function done() {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  }
}
