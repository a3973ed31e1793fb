/** What Hyper-V cmdlets and CIM classes see of one PowerShell session: the model and the local node. */
import type { HypervModel, SimVm } from "./model.js";
import { PsError, PsObject, toStr, type PsValue } from "./ps/values.js";

export interface HostContext {
  readonly model: HypervModel;
  /** The node this session runs on (the SSH endpoint, or the node the local executable is for). */
  readonly localNode: string;
}

/** Hidden links from objects handed to scripts back to the model (Get-VM -> SimVm, CIM -> class+key). */
const links = new WeakMap<PsObject, unknown>();

export function link<T>(obj: PsObject, target: T): PsObject {
  links.set(obj, target);
  return obj;
}

export function linked<T>(obj: PsValue | undefined, guard: (x: unknown) => x is T): T | undefined {
  if (!(obj instanceof PsObject)) return undefined;
  const t = links.get(obj);
  return guard(t) ? t : undefined;
}

/** `-ComputerName`: defaults to the local node; an unknown or down node is a WinRM connection failure. */
export function targetNode(ctx: HostContext, computerName: PsValue | undefined, cmdlet: string): string {
  const name = computerName === undefined || computerName === null ? ctx.localNode : toStr(computerName);
  const node = ctx.model.node(name);
  if (!node || node.state === "Down") {
    throw new PsError(
      `The WinRM client cannot process the request because the server name cannot be resolved or the computer '${name}' is not reachable. Verify that the computer is on the network and that the WinRM service is running.`,
      "Microsoft.Management.Infrastructure.CimException",
      `HRESULT 0x80338126,${cmdlet}`,
      "ConnectionError",
      false,
    );
  }
  return node.name;
}

export function vmsOnNode(ctx: HostContext, node: string): SimVm[] {
  return ctx.model.vms.filter((v) => v.node.toLowerCase() === node.toLowerCase());
}

export function isSimVm(x: unknown): x is SimVm {
  return typeof x === "object" && x !== null && "drives" in x && "ics" in x;
}
