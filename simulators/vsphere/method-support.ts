/** What every vim25 method handler gets and shares: the call context, argument and task helpers. */
import type { Session, VsphereModel } from "./model.js";
import type { ResultPager } from "./property-collector.js";
import type { XNode } from "./soap-codec.js";
import { faults, type MoRef, type VimValue } from "./vim-value.js";
import { VirtualMachine } from "./vm.js";
import type { UpdateState } from "./wait-for-updates.js";

export interface CallContext {
  readonly model: VsphereModel;
  readonly pager: ResultPager;
  readonly updates: UpdateState;
  session: Session | undefined;
  readonly userAgent: string;
  readonly ipAddress: string;
  /** Starts a session: the HTTP layer sets the cookie. */
  login(session: Session): void;
  logout(): void;
}

export interface MethodResult {
  readonly type: string;
  readonly value: VimValue | undefined;
}

export type Handler = (ctx: CallContext, self: MoRef, body: XNode) => MethodResult | Promise<MethodResult>;

export interface MethodDef {
  /** Managed object type `_this` must be (or derive from). */
  readonly on: string;
  readonly auth: boolean;
  readonly handler: Handler;
}

export const none: MethodResult = { type: "xsd:anyType", value: undefined };

export function need<T>(v: T | undefined, name: string): T {
  if (v === undefined || v === "")
    throw faults.invalidArgument(name, `Required parameter ${name} is missing`);
  return v;
}

export function vmOf(ctx: CallContext, self: MoRef): VirtualMachine {
  const o = ctx.model.get(self);
  if (!(o instanceof VirtualMachine)) throw faults.managedObjectNotFound(self);
  return o;
}

export function user(ctx: CallContext): string {
  return ctx.session?.userName ?? "";
}

export function task(
  ctx: CallContext,
  vm: VirtualMachine,
  method: string,
  descriptionId: string,
  work: () => VimValue | undefined,
  cancelable = false,
): MethodResult {
  const slow = ctx.model.faults.take(
    "slow-task",
    (r) => r.method === method && (r.vm === undefined || r.vm === vm.name),
  );
  const t = ctx.model.tasks.start(
    vm,
    descriptionId,
    user(ctx),
    work,
    { delayMs: slow?.delayMs, hold: slow?.hold },
    true,
    cancelable,
  );
  return { type: "ManagedObjectReference", value: t.ref };
}
