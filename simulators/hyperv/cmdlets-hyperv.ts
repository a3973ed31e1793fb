/**
 * Hyper-V module cmdlets over the model, with the object shapes of Windows Server 2019/2022:
 * enums are .NET enums (numbers in 5.1 JSON), ids are System.Guid, dates System.DateTime.
 */
import type { CmdletDef } from "./ps/binding.js";
import { PsEnum, PsError, PsGuid, PsObject, enumerate, toStr, type PsValue } from "./ps/values.js";
import { VM_STATE, type SimVm } from "./model.js";
import { isSimVm, link, linked, targetNode, vmsOnNode, type HostContext } from "./host-context.js";

const IC_STATUS_NAMES: Record<number, string> = {
  2: "Ok",
  3: "Degraded",
  6: "Error",
  7: "NonRecoverableError",
  12: "NoContact",
  13: "LostCommunication",
};
const SNAPSHOT_TYPE = { Standard: 0, Recovery: 1, Production: 0 } as const;

export function vmObject(vm: SimVm): PsObject {
  const obj = new PsObject("Microsoft.HyperV.PowerShell.VirtualMachine", {
    Name: vm.name,
    Id: new PsGuid(vm.id),
    VMId: new PsGuid(vm.id),
    State: new PsEnum("Microsoft.HyperV.PowerShell.VMState", vm.state, VM_STATE[vm.state]),
    Generation: vm.generation,
    Version: vm.version,
    ComputerName: vm.node,
    IsClustered: vm.clustered,
  });
  obj.toStringValue = () => `VirtualMachine (Name = '${vm.name}') [Id = '${vm.id}']`;
  return link(obj, vm);
}

function vmParam(ctx: HostContext, value: PsValue | undefined, cmdlet: string): SimVm[] {
  const out: SimVm[] = [];
  for (const v of enumerate(value ?? null)) {
    const vm = linked(v, isSimVm);
    if (!vm)
      throw new PsError(
        `${cmdlet} : Cannot bind parameter 'VM'. Cannot convert the value to type "Microsoft.HyperV.PowerShell.VirtualMachine".`,
        "System.Management.Automation.ParameterBindingException",
        `CannotConvertArgument,${cmdlet}`,
        "InvalidArgument",
      );
    // A VM object from before a live migration refers to a VM this node no longer hosts.
    if (!ctx.model.vmById(vm.id) || ctx.model.node(vm.node)?.state === "Down") {
      throw new PsError(
        `${cmdlet} : Hyper-V was unable to find a virtual machine with id '${vm.id}'.`,
        "Microsoft.HyperV.PowerShell.VirtualizationException",
        `InvalidParameter,Microsoft.HyperV.PowerShell.Commands.${cmdlet.replace("-", "")}Command`,
        "InvalidArgument",
        false,
      );
    }
    out.push(vm);
  }
  return out;
}

function vmsFrom(
  ctx: HostContext,
  call: { params: ReadonlyMap<string, PsValue>; input: PsValue[] },
  cmdlet: string,
): SimVm[] {
  return vmParam(ctx, call.params.get("vm") ?? call.input, cmdlet);
}

export function hypervCmdlets(ctx: HostContext): Record<string, CmdletDef> {
  return {
    "Get-VM": {
      params: ["Name", "Id", "ComputerName"],
      positional: ["Name"],
      async run(call) {
        const node = targetNode(ctx, call.params.get("computername"), "Get-VM");
        let vms = vmsOnNode(ctx, node);
        const id = call.params.get("id");
        const name = call.params.get("name");
        if (id !== undefined) vms = vms.filter((v) => v.id === toStr(id).toLowerCase());
        if (name !== undefined) vms = vms.filter((v) => v.name.toLowerCase() === toStr(name).toLowerCase());
        if ((id !== undefined || name !== undefined) && vms.length === 0) {
          throw new PsError(
            `Hyper-V was unable to find a virtual machine with ${id !== undefined ? `id "${toStr(id)}"` : `name "${toStr(name)}"`}.`,
            "Microsoft.HyperV.PowerShell.VirtualizationException",
            "InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM",
            "InvalidArgument",
            false,
          );
        }
        return vms.map(vmObject);
      },
    },
    "Get-VMIntegrationService": {
      params: ["VM", "Name"],
      async run(call) {
        return vmsFrom(ctx, call, "Get-VMIntegrationService").flatMap((vm) =>
          vm.ics.map((ic) => {
            const running = vm.state === "Running";
            const status = running && ic.enabled ? ic.status : null;
            return new PsObject("Microsoft.HyperV.PowerShell.VMIntegrationComponent", {
              VMName: vm.name,
              VMId: new PsGuid(vm.id),
              Name: ic.name,
              Id: `Microsoft:${vm.id.toUpperCase()}\\${ic.id}`,
              Enabled: ic.enabled,
              PrimaryOperationalStatus:
                status === null
                  ? null
                  : new PsEnum(
                      "Microsoft.HyperV.PowerShell.VMIntegrationComponentOperationalStatus",
                      IC_STATUS_NAMES[status] ?? "Unknown",
                      status,
                    ),
            });
          }),
        );
      },
    },
    "Get-VMHardDiskDrive": {
      params: ["VM"],
      async run(call) {
        return vmsFrom(ctx, call, "Get-VMHardDiskDrive").flatMap((vm) =>
          vm.drives.map(
            (d) =>
              new PsObject("Microsoft.HyperV.PowerShell.HardDiskDrive", {
                VMName: vm.name,
                VMId: new PsGuid(vm.id),
                ControllerType: new PsEnum(
                  "Microsoft.HyperV.PowerShell.ControllerType",
                  d.controllerType,
                  d.controllerType === "IDE" ? 0 : 1,
                ),
                ControllerNumber: d.controllerNumber,
                ControllerLocation: d.location,
                Path: d.disk.chain[d.disk.chain.length - 1] ?? d.disk.basePath,
                SupportPersistentReservations: d.disk.shared,
                ComputerName: vm.node,
              }),
          ),
        );
      },
    },
    "Get-VMSnapshot": {
      params: ["VM", "SnapshotType"],
      async run(call) {
        const type = call.params.get("snapshottype");
        return vmsFrom(ctx, call, "Get-VMSnapshot").flatMap((vm) =>
          ctx.model.snapshots
            .filter(
              (s) =>
                s.vmId === vm.id &&
                (type === undefined
                  ? s.type !== "Recovery"
                  : s.type.toLowerCase() === toStr(type).toLowerCase()),
            )
            .map(
              (s) =>
                new PsObject("Microsoft.HyperV.PowerShell.VMSnapshot", {
                  Name: s.name,
                  Id: new PsGuid(s.instanceId.replace(/^Microsoft:/, "")),
                  VMName: vm.name,
                  SnapshotType: new PsEnum(
                    "Microsoft.HyperV.PowerShell.SnapshotType",
                    s.type === "Recovery" ? "Recovery" : "Standard",
                    SNAPSHOT_TYPE[s.type],
                  ),
                  CreationTime: s.created,
                }),
            ),
        );
      },
    },
    "Get-VHD": {
      params: ["Path", "ComputerName"],
      positional: ["Path"],
      async run(call) {
        targetNode(ctx, call.params.get("computername"), "Get-VHD");
        const path = toStr(call.params.get("path") ?? null);
        const disk = ctx.model.diskOfFile(path);
        if (!disk) {
          throw new PsError(
            `Getting the mounted storage instance for the path '${path}' failed. The system cannot find the file specified. (0x80070002)`,
            "Microsoft.HyperV.PowerShell.VirtualizationException",
            "ObjectNotFound,Microsoft.Vhd.PowerShell.Cmdlets.GetVHD",
            "ObjectNotFound",
            false,
          );
        }
        const index = disk.chain.findIndex((f) => f.toLowerCase() === path.toLowerCase());
        return [
          new PsObject("Microsoft.Vhd.PowerShell.VirtualHardDisk", {
            Path: disk.chain[index] ?? path,
            VhdFormat: new PsEnum(
              "Microsoft.Vhd.PowerShell.VhdFormat",
              disk.format === "vhds" ? "VHDSet" : "VHDX",
              disk.format === "vhds" ? 4 : 3,
            ),
            VhdType: new PsEnum(
              "Microsoft.Vhd.PowerShell.VhdType",
              index > 0 ? "Differencing" : "Dynamic",
              index > 0 ? 4 : 3,
            ),
            Size: disk.size,
            ParentPath: index > 0 ? (disk.chain[index - 1] ?? null) : null,
            DiskIdentifier: disk.diskId,
          }),
        ];
      },
    },
    "Get-WinEvent": {
      params: ["FilterHashtable", "ComputerName", "MaxEvents"],
      async run(call) {
        const node = targetNode(ctx, call.params.get("computername"), "Get-WinEvent");
        const filter = call.params.get("filterhashtable");
        const log =
          filter && typeof filter === "object" && "get" in filter ? toStr(filter.get("LogName") ?? null) : "";
        const ids =
          filter && typeof filter === "object" && "get" in filter
            ? enumerate(filter.get("Id") ?? null).map((x) => Number(toStr(x)))
            : [];
        if (log.toLowerCase() !== "microsoft-windows-hyper-v-worker-admin") {
          throw new PsError(
            `There is not an event log on the ${node} computer that matches "${log}".`,
            "System.Exception",
            "NoMatchingLogsFound,Microsoft.PowerShell.Commands.GetWinEventCommand",
            "ObjectNotFound",
            false,
          );
        }
        const events = ctx.model.events
          .filter(
            (e) => e.node.toLowerCase() === node.toLowerCase() && (ids.length === 0 || ids.includes(e.id)),
          )
          .sort((a, b) => b.time.getTime() - a.time.getTime());
        if (events.length === 0) {
          throw new PsError(
            "No events were found that match the specified selection criteria.",
            "System.Exception",
            "NoMatchingEventsFound,Microsoft.PowerShell.Commands.GetWinEventCommand",
            "ObjectNotFound",
            false,
          );
        }
        return events.map(
          (e) =>
            new PsObject("System.Diagnostics.Eventing.Reader.EventLogRecord", {
              Id: e.id,
              TimeCreated: e.time,
              MachineName: e.node,
              ProviderName: "Microsoft-Windows-Hyper-V-Worker",
              Properties: [
                new PsObject("System.Diagnostics.Eventing.Reader.EventProperty", { Value: e.vmName }),
                new PsObject("System.Diagnostics.Eventing.Reader.EventProperty", {
                  Value: e.vmId.toUpperCase(),
                }),
              ],
            }),
        );
      },
    },
  };
}
