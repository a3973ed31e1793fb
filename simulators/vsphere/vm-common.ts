/** Helpers shared by the VM and snapshot operations. */
import { join } from "node:path";
import type { VsphereModel } from "./model.js";
import type { VirtualMachine } from "./vm.js";

export function vmHome(vm: VirtualMachine): string {
  return join(vm.placement.datastores[0]!.root, vm.vmDir);
}

/** A stun/unstun cycle (power on, resume, snapshot create/remove): pending CBT starts tracking. */
export function stun(model: VsphereModel, vm: VirtualMachine): void {
  for (const d of vm.disks) if (d.ctkPending) d.activateTracking(model.scenario.options.cbtBlockSize);
}
