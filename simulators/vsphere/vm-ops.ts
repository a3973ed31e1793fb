/**
 * VM operations with vSphere's semantics: power, host crash, reconfigure (CBT activation), migrate,
 * rename; snapshot operations come from snapshot-ops.ts. Each throws the VimFault vSphere raises;
 * tasks call these from their work function.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { VsphereModel } from "./model.js";
import { vmxText } from "./model.js";
import { data, faults, type DataObject } from "./vim-value.js";
import type { Power, VirtualMachine } from "./vm.js";
import { stun, vmHome } from "./vm-common.js";

export {
  createSnapshot,
  removeSnapshot,
  consolidate,
  changedDiskAreas,
  type SnapshotArgs,
} from "./snapshot-ops.js";

export type PowerOp = "powerOn" | "powerOff" | "suspend" | "reset" | "shutdownGuest";

export function power(model: VsphereModel, vm: VirtualMachine, op: PowerOp, user: string): void {
  const now = model.clock.now();
  const need = (states: Power[], requested: Power | undefined) => {
    if (!states.includes(vm.power)) throw faults.invalidPowerState(requested, vm.power);
  };
  const post = (type: string) => model.events.postVm(type, vm, user, now);
  switch (op) {
    case "powerOn":
      need(["poweredOff", "suspended"], "poweredOn");
      post("VmStartingEvent");
      vm.power = "poweredOn";
      vm.bootTime = now;
      vm.cleanPowerOff = undefined;
      stun(model, vm);
      post("VmPoweredOnEvent");
      break;
    case "powerOff":
      need(["poweredOn", "suspended"], "poweredOff");
      post("VmStoppingEvent");
      vm.power = "poweredOff";
      // The VMX process stopped in an orderly way; the guest did not shut down (see docs).
      vm.cleanPowerOff = true;
      post("VmPoweredOffEvent");
      break;
    case "shutdownGuest":
      need(["poweredOn"], undefined);
      if (!vm.toolsRunning) throw faults.toolsUnavailable();
      post("VmGuestShutdownEvent");
      vm.power = "poweredOff";
      vm.cleanPowerOff = true;
      post("VmPoweredOffEvent");
      break;
    case "suspend":
      need(["poweredOn"], "suspended");
      post("VmSuspendingEvent");
      vm.power = "suspended";
      post("VmSuspendedEvent");
      break;
    case "reset":
      need(["poweredOn"], undefined);
      post("VmResettingEvent");
      vm.bootTime = now;
      stun(model, vm);
      break;
  }
}

/** The VM's host lost power: no orderly stop, no event; CBT may reset (KB 1020128). */
export function crash(model: VsphereModel, vm: VirtualMachine, resetCbt: boolean): void {
  if (vm.power === "poweredOff") throw faults.invalidPowerState("poweredOff", vm.power);
  vm.power = "poweredOff";
  vm.cleanPowerOff = false;
  if (resetCbt) for (const d of vm.disks) d.tracker?.reset();
  model.changed();
}

export interface ReconfigArgs {
  readonly changeTrackingEnabled?: boolean | undefined;
  readonly extraConfig?: readonly (readonly [string, string])[] | undefined;
}

/** ReconfigVM_Task for the parts of VirtualMachineConfigSpec the simulator models. */
export function reconfigure(
  model: VsphereModel,
  vm: VirtualMachine,
  args: ReconfigArgs,
  spec: DataObject,
  user: string,
): void {
  const cbt = args.changeTrackingEnabled;
  if (cbt !== undefined && cbt !== vm.changeTrackingEnabled) {
    vm.changeTrackingEnabled = cbt;
    for (const d of vm.disks) {
      if (!cbt) {
        d.tracker = undefined;
        d.ctkPending = false;
      } else if (vm.power === "poweredOff") {
        // A powered-off VM writes the tracking file at once (observed on ESXi 8, XO PR #10384).
        d.activateTracking(model.scenario.options.cbtBlockSize);
      } else {
        d.ctkPending = true;
      }
    }
  }
  for (const [k, v] of args.extraConfig ?? []) {
    if (v === "") vm.extraConfig.delete(k);
    else vm.extraConfig.set(k, v);
  }
  vm.changeVersion = model.clock.now();
  model.events.postVm("VmReconfiguredEvent", vm, user, model.clock.now(), { configSpec: spec });
  writeFileSync(join(vmHome(vm), `${vm.vmDir}.vmx`), vmxText(vm));
}

/** vMotion to another host of the same datacenter (the control API's "VM migrated mid-job"). */
export function migrate(model: VsphereModel, vm: VirtualMachine, hostName: string, user: string): void {
  const { datacenter, host: from } = vm.placement;
  const target = model.hosts().find((h) => h.host.name === hostName && h.datacenter === datacenter);
  if (!target) throw faults.notFound(`No host ${JSON.stringify(hostName)} in datacenter ${datacenter.name}`);
  if (target.host === from) throw faults.invalidArgument("host", `VM ${vm.name} already runs on ${hostName}`);
  const drop = <T>(list: T[], item: T) => list.splice(list.indexOf(item), 1);
  drop(from.vms, vm);
  drop(vm.placement.pool.vms, vm);
  target.host.vms.push(vm);
  target.compute.resourcePool.vms.push(vm);
  vm.placement = {
    ...vm.placement,
    host: target.host,
    compute: target.compute,
    pool: target.compute.resourcePool,
  };
  model.events.postVm("VmMigratedEvent", vm, user, model.clock.now(), {
    sourceHost: data("HostEventArgument", { name: from.name, host: from.ref }),
  });
  model.changed();
}

export function rename(model: VsphereModel, vm: VirtualMachine, newName: string, user: string): void {
  if (newName.length === 0 || newName.length > 80) throw faults.invalidName(newName);
  const clash = model.vms.find((v) => v !== vm && v.parent === vm.parent && v.name === newName);
  if (clash) throw faults.duplicateName(newName, clash.ref);
  const oldName = vm.name;
  vm.name = newName;
  model.events.postVm("VmRenamedEvent", vm, user, model.clock.now(), { oldName, newName });
}

/** QueryChangedDiskAreas(snapshot?, deviceKey, startOffset, changeId). */
