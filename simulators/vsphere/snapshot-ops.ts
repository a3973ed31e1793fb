/**
 * Snapshot operations with vSphere's semantics: create (quiesce as the guest can, a redo log per disk,
 * the CBT point closed), remove with merge or left for consolidation, consolidate, and CBT queries
 * against a snapshot's points. Each throws the VimFault vSphere raises.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { VsphereModel } from "./model.js";
import { vmxText } from "./model.js";
import { VimFault, data, faults, type DataObject } from "./vim-value.js";
import { SimSnapshot, type Power, type VirtualMachine } from "./vm.js";
import { stun, vmHome } from "./vm-common.js";

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
  model.noteOpenSnapshots();
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
