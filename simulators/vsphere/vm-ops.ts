/**
 * VM operations with vSphere's semantics: power, snapshots (quiesce as the guest can), removal with
 * consolidation, CBT activation and queries, reconfigure, rename. Each throws the VimFault vSphere
 * raises; tasks call these from their work function.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { VsphereModel } from "./model.js";
import { vmxText } from "./model.js";
import { VimFault, data, faults, type DataObject } from "./vim-value.js";
import { SimSnapshot, type Power, type VirtualMachine } from "./vm.js";

export type PowerOp = "powerOn" | "powerOff" | "suspend" | "reset" | "shutdownGuest";

function vmHome(vm: VirtualMachine): string {
  return join(vm.placement.datastores[0]!.root, vm.vmDir);
}

/** A stun/unstun cycle (power on, resume, snapshot create/remove): pending CBT starts tracking. */
function stun(model: VsphereModel, vm: VirtualMachine): void {
  for (const d of vm.disks) if (d.ctkPending) d.activateTracking(model.scenario.options.cbtBlockSize);
}

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

export interface SnapshotArgs {
  readonly name: string;
  readonly description: string;
  readonly memory: boolean;
  readonly quiesce: boolean;
}

/**
 * CreateSnapshot_Task. Quiesce follows the API reference: "If the virtual machine is powered off or
 * VMware Tools are not available, the quiesce flag is ignored" (CreateSnapshotRequestType), so the
 * node says quiesced=false. With Tools running, Windows guests get a VSS (application) quiesce and a
 * backupManifest; other guests get a file-system quiesce without one.
 */
export function createSnapshot(model: VsphereModel, vm: VirtualMachine, args: SnapshotArgs): SimSnapshot {
  if (args.memory && vm.power !== "poweredOn") {
    // vSphere ignores memory for a VM that is not running; nothing to do here beyond the state below.
  }
  const quiescing = args.quiesce && vm.toolsRunning;
  if (quiescing) {
    const rule = model.faults.take("quiesce-failure", (r) => r.vm === vm.name);
    if (rule) {
      const type = rule.fault ?? (vm.isWindows ? "ApplicationQuiesceFault" : "FilesystemQuiesceFault");
      throw new VimFault(
        type,
        type === "ApplicationQuiesceFault"
          ? "An error occurred while quiescing the virtual machine. See the virtual machine's event log for details."
          : "An error occurred while taking a snapshot: Failed to quiesce the virtual machine.",
      );
    }
  }
  const id = vm.nextSnapshotId++;
  const ref = model.newRef("VirtualMachineSnapshot", "snapshot");
  const state: Power = vm.power === "poweredOn" && !args.memory ? "poweredOff" : vm.power;
  const manifest = quiescing && vm.isWindows ? `vss-manifest${id}.zip` : undefined;
  // The changeId recorded for the snapshot closes the current CBT epoch; tracking that this very
  // stun activates starts after it, so such a snapshot has no changeId yet.
  const changeIds = new Map<number, string>();
  for (const d of vm.disks) if (d.tracker) changeIds.set(d.key, d.tracker.point());
  const snap = new SimSnapshot(
    ref,
    id,
    vm,
    args.name,
    args.description,
    model.clock.now(),
    state,
    quiescing,
    manifest,
    changeIds,
  );
  for (const d of vm.disks) d.addDelta(id);
  stun(model, vm);
  const home = vmHome(vm);
  writeFileSync(join(home, `${vm.vmDir}-Snapshot${id}.vmsn`), `snapshot ${id} of ${vm.name}\n`);
  if (manifest) writeFileSync(join(home, manifest), "");
  if (vm.current) {
    snap.parent = vm.current;
    vm.current.children.push(snap);
  } else {
    vm.rootSnapshots.push(snap);
  }
  vm.current = snap;
  model.register(snap);
  writeFileSync(join(home, `${vm.vmDir}.vmx`), vmxText(vm));
  return snap;
}

/** RemoveSnapshot_Task(removeChildren, consolidate). */
export function removeSnapshot(
  model: VsphereModel,
  snap: SimSnapshot,
  removeChildren: boolean,
  consolidate: boolean,
): void {
  const vm = snap.vm;
  if (model.faults.take("snapshot-removal-failure", (r) => r.vm === vm.name)) {
    throw new VimFault(
      "GenericVmConfigFault",
      "An error occurred while consolidating disks: Failed to lock the file.",
      {
        reason: "Failed to lock the file",
      },
    );
  }
  const victims = removeChildren ? collect(snap) : [snap];
  const leaveDelta =
    !consolidate || model.faults.take("consolidation-needed", (r) => r.vm === vm.name) !== undefined;
  // Deepest first, so each merge folds a redo log into a parent that still exists.
  for (const s of victims.reverse()) detach(model, s, leaveDelta);
  stun(model, vm);
  writeFileSync(join(vmHome(vm), `${vm.vmDir}.vmx`), vmxText(vm));
}

function collect(s: SimSnapshot): SimSnapshot[] {
  return [s, ...s.children.flatMap(collect)];
}

function detach(model: VsphereModel, snap: SimSnapshot, leaveDelta: boolean): void {
  const vm = snap.vm;
  const siblings = snap.parent ? snap.parent.children : vm.rootSnapshots;
  siblings.splice(siblings.indexOf(snap), 1, ...snap.children);
  for (const c of snap.children) c.parent = snap.parent;
  if (vm.current === snap) vm.current = snap.parent;
  for (const d of vm.disks) {
    const i = d.chain.findIndex((l) => l.createdBy === snap.id);
    if (i < 1) continue;
    if (leaveDelta) d.chain[i]!.createdBy = undefined;
    else d.mergeDown(i);
  }
  if (leaveDelta) vm.consolidationNeeded = true;
  rmSync(join(vmHome(vm), `${vm.vmDir}-Snapshot${snap.id}.vmsn`), { force: true });
  if (snap.backupManifest) rmSync(join(vmHome(vm), snap.backupManifest), { force: true });
  model.objects.delete(snap.ref.key);
}

/** ConsolidateVMDisks_Task: folds orphaned redo logs into their parents. */
export function consolidate(model: VsphereModel, vm: VirtualMachine): void {
  if (model.faults.take("consolidation-failure", (r) => r.vm === vm.name)) {
    throw new VimFault(
      "GenericVmConfigFault",
      "An error occurred while consolidating disks: Failed to lock the file.",
      {
        reason: "Failed to lock the file",
      },
    );
  }
  for (const d of vm.disks) {
    for (let i = d.chain.length - 1; i >= 1; i--) if (d.chain[i]!.createdBy === undefined) d.mergeDown(i);
  }
  vm.consolidationNeeded = false;
  writeFileSync(join(vmHome(vm), `${vm.vmDir}.vmx`), vmxText(vm));
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
export function changedDiskAreas(
  model: VsphereModel,
  vm: VirtualMachine,
  snap: SimSnapshot | undefined,
  deviceKey: number,
  startOffset: number,
  changeId: string,
): DataObject {
  const disk = vm.disks.find((d) => d.key === deviceKey);
  if (!disk) throw faults.invalidArgument("deviceKey", `No virtual disk with device key ${deviceKey}`);
  if (!Number.isSafeInteger(startOffset) || startOffset < 0 || startOffset >= disk.capacity) {
    throw faults.invalidArgument(
      "startOffset",
      `startOffset ${startOffset} is outside the disk (capacity ${disk.capacity})`,
    );
  }
  const ctk = join(disk.relative(`${disk.chain[0]!.descriptor.replace(/\.vmdk$/, "")}-ctk.vmdk`));
  const file = `[${disk.datastore}] ${ctk}`;
  if (!snap && vm.power !== "poweredOff") {
    throw faults.fileFault(
      file,
      "Error caused by file " +
        file +
        ": changes can only be queried against the current state of a powered-off VM",
    );
  }
  const until = snap ? snap.changeIds.get(deviceKey) : disk.tracker ? "live" : undefined;
  if (!disk.tracker || until === undefined) {
    throw faults.fileFault(
      file,
      `Error caused by file ${file}: change tracking is not active for this disk at this point`,
    );
  }
  const r = disk.tracker.query(
    changeId,
    until,
    startOffset,
    model.scenario.options.cbtMaxExtentsPerCall,
    () => disk.allocation.bits,
  );
  if (!r.ok) throw faults.fileFault(file, `Error caused by file ${file}: ${r.reason}`);
  return data("DiskChangeInfo", {
    startOffset: r.answer.startOffset,
    length: r.answer.length,
    changedArea: r.answer.extents.map((e) => data("DiskChangeExtent", { start: e.start, length: e.length })),
  });
}
