/** vim25 methods on virtual machines and snapshots: power, snapshots, consolidation, reconfigure, CBT. */
import { need, none, task, user, vmOf, type MethodDef } from "./method-support.js";
import { boolOf, child, childrenOf, morefOf, textOf } from "./soap-codec.js";
import { Typed, data, faults } from "./vim-value.js";
import { SimSnapshot } from "./vm.js";
import * as ops from "./vm-ops.js";

function powerMethod(op: ops.PowerOp, descriptionId: string): MethodDef {
  return {
    on: "VirtualMachine",
    auth: true,
    handler: (ctx, self) => {
      const vm = vmOf(ctx, self);
      const method = {
        powerOn: "PowerOnVM_Task",
        powerOff: "PowerOffVM_Task",
        suspend: "SuspendVM_Task",
        reset: "ResetVM_Task",
        shutdownGuest: "",
      }[op];
      return task(ctx, vm, method, descriptionId, () => {
        ops.power(ctx.model, vm, op, user(ctx));
        return undefined;
      });
    },
  };
}

export const VM_METHODS: Record<string, MethodDef> = {
  PowerOnVM_Task: powerMethod("powerOn", "VirtualMachine.powerOn"),
  PowerOffVM_Task: powerMethod("powerOff", "VirtualMachine.powerOff"),
  SuspendVM_Task: powerMethod("suspend", "VirtualMachine.suspend"),
  ResetVM_Task: powerMethod("reset", "VirtualMachine.reset"),
  ShutdownGuest: {
    on: "VirtualMachine",
    auth: true,
    handler: (ctx, self) => {
      const vm = vmOf(ctx, self);
      if (vm.power !== "poweredOn") throw faults.invalidPowerState(undefined, vm.power);
      if (!vm.toolsRunning) throw faults.toolsUnavailable();
      // The guest shuts down after the call returns.
      setImmediate(() => {
        if (vm.power === "poweredOn") ops.power(ctx.model, vm, "shutdownGuest", user(ctx));
        ctx.model.changed();
      });
      return none;
    },
  },
  CreateSnapshot_Task: {
    on: "VirtualMachine",
    auth: true,
    handler: (ctx, self, body) => {
      const vm = vmOf(ctx, self);
      const args = {
        name: need(textOf(body, "name"), "name"),
        description: textOf(body, "description") ?? "",
        memory: need(boolOf(body, "memory"), "memory"),
        quiesce: need(boolOf(body, "quiesce"), "quiesce"),
      };
      return task(
        ctx,
        vm,
        "CreateSnapshot_Task",
        "VirtualMachine.createSnapshot",
        () => ops.createSnapshot(ctx.model, vm, args).ref,
        true,
      );
    },
  },
  RemoveSnapshot_Task: {
    on: "VirtualMachineSnapshot",
    auth: true,
    handler: (ctx, self, body) => {
      const snap = ctx.model.get(self);
      if (!(snap instanceof SimSnapshot)) throw faults.managedObjectNotFound(self);
      const removeChildren = need(boolOf(body, "removeChildren"), "removeChildren");
      const consolidate = boolOf(body, "consolidate") ?? true;
      return task(ctx, snap.vm, "RemoveSnapshot_Task", "vm.Snapshot.remove", () => {
        if (!ctx.model.get(self)) throw faults.managedObjectNotFound(self);
        ops.removeSnapshot(ctx.model, snap, removeChildren, consolidate);
        return undefined;
      });
    },
  },
  ConsolidateVMDisks_Task: {
    on: "VirtualMachine",
    auth: true,
    handler: (ctx, self) => {
      const vm = vmOf(ctx, self);
      return task(ctx, vm, "ConsolidateVMDisks_Task", "VirtualMachine.consolidateDisks", () => {
        ops.consolidate(ctx.model, vm);
        return undefined;
      });
    },
  },
  ReconfigVM_Task: {
    on: "VirtualMachine",
    auth: true,
    handler: (ctx, self, body) => {
      const vm = vmOf(ctx, self);
      const spec = need(child(body, "spec"), "spec");
      const modelled = new Set(["changeTrackingEnabled", "extraConfig"]);
      const other = [...spec.children.keys()].filter((k) => !modelled.has(k));
      const cbt = boolOf(spec, "changeTrackingEnabled");
      const extra = childrenOf(spec, "extraConfig").map(
        (o) => [textOf(o, "key") ?? "", textOf(o, "value") ?? ""] as const,
      );
      const echo = data("VirtualMachineConfigSpec", {
        changeTrackingEnabled: cbt,
        extraConfig: extra.map(([key, value]) =>
          data("OptionValue", { key, value: new Typed("xsd:string", value) }),
        ),
      });
      return task(ctx, vm, "ReconfigVM_Task", "VirtualMachine.reconfigure", () => {
        if (other.length)
          throw faults.notSupported(
            `The simulator does not model VirtualMachineConfigSpec.${other.join(", ")}`,
          );
        ops.reconfigure(ctx.model, vm, { changeTrackingEnabled: cbt, extraConfig: extra }, echo, user(ctx));
        return undefined;
      });
    },
  },
  Rename_Task: {
    on: "VirtualMachine",
    auth: true,
    handler: (ctx, self, body) => {
      const vm = vmOf(ctx, self);
      const newName = need(textOf(body, "newName"), "newName");
      return task(ctx, vm, "Rename_Task", "VirtualMachine.rename", () => {
        ops.rename(ctx.model, vm, newName, user(ctx));
        return undefined;
      });
    },
  },
  QueryChangedDiskAreas: {
    on: "VirtualMachine",
    auth: true,
    handler: (ctx, self, body) => {
      const vm = vmOf(ctx, self);
      const snapRef = morefOf(child(body, "snapshot"));
      let snap: SimSnapshot | undefined;
      if (snapRef) {
        const s = ctx.model.get(snapRef);
        if (!(s instanceof SimSnapshot) || s.vm !== vm) throw faults.managedObjectNotFound(snapRef);
        snap = s;
      }
      const deviceKey = Number(need(textOf(body, "deviceKey"), "deviceKey"));
      const startOffset = Number(need(textOf(body, "startOffset"), "startOffset"));
      const changeId = need(textOf(body, "changeId"), "changeId");
      return {
        type: "DiskChangeInfo",
        value: ops.changedDiskAreas(ctx.model, vm, snap, deviceKey, startOffset, changeId),
      };
    },
  },
};
