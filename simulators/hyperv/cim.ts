/**
 * CIM cmdlets (Get-CimInstance, Get-CimAssociatedInstance, Invoke-CimMethod) over the
 * root\virtualization\v2 classes the backup path uses. Instances are linked to the model and to the
 * node whose VMMS answered; methods on a node that no longer owns the VM fail with "Not found".
 */
import type { CmdletDef } from "./ps/binding.js";
import { PsError, PsHashtable, PsObject, toStr, type PsValue } from "./ps/values.js";
import type { SimJob, SimReferencePoint, SimSnapshot, SimVm } from "./model.js";
import { link, linked, targetNode, vmsOnNode, type HostContext } from "./host-context.js";
import { invokeMethod } from "./cim-methods.js";

export const NAMESPACE = "root\\virtualization\\v2";

export interface CimRef {
  readonly cimClass: string;
  readonly node: string;
  readonly vm?: SimVm;
  readonly snapshot?: SimSnapshot;
  readonly job?: SimJob;
  readonly referencePoint?: SimReferencePoint;
  readonly collection?: { id: string; name: string; members: string[] };
}

function isCimRef(x: unknown): x is CimRef {
  return typeof x === "object" && x !== null && "cimClass" in x && "node" in x;
}

export function cimRef(v: PsValue | undefined): CimRef | undefined {
  return linked(v, isCimRef);
}

export function cimInstance(ref: CimRef, props: Record<string, PsValue>): PsObject {
  const obj = new PsObject(
    `Microsoft.Management.Infrastructure.CimInstance#root/virtualization/v2/${ref.cimClass}`,
    props,
  );
  obj.toStringValue = () => `${ref.cimClass}`;
  return link(obj, ref);
}

export function cimError(
  message: string,
  hresult: string,
  cmdlet: string,
  category = "NotSpecified",
): PsError {
  return new PsError(
    message,
    "Microsoft.Management.Infrastructure.CimException",
    `HRESULT ${hresult},Microsoft.Management.Infrastructure.CimCmdlets.${cmdlet}Command`,
    category,
    false,
  );
}

export function vmInstance(node: string, vm: SimVm): PsObject {
  return cimInstance(
    { cimClass: "Msvm_ComputerSystem", node, vm },
    {
      Name: vm.id.toUpperCase(),
      ElementName: vm.name,
      Caption: "Virtual Machine",
      EnabledState: vm.state === "Running" ? 2 : 3,
    },
  );
}

export function snapshotInstance(node: string, s: SimSnapshot): PsObject {
  return cimInstance(
    { cimClass: "Msvm_VirtualSystemSettingData", node, snapshot: s },
    {
      InstanceID: s.instanceId,
      ElementName: s.name,
      VirtualSystemType:
        s.type === "Recovery" ? "Microsoft:Hyper-V:Snapshot:Recovery" : "Microsoft:Hyper-V:Snapshot:Realized",
      VirtualSystemIdentifier: s.vmId.toUpperCase(),
      CreationTime: s.created,
    },
  );
}

export function jobInstance(node: string, job: SimJob): PsObject {
  return cimInstance(
    { cimClass: "Msvm_ConcreteJob", node, job },
    {
      InstanceID: job.instanceId,
      JobState: job.state,
      ErrorCode: job.errorCode,
      ErrorDescription: job.errorDescription,
      PercentComplete: job.state === 7 ? 100 : 0,
      Caption: job.method,
    },
  );
}

export function referencePointInstance(node: string, rp: SimReferencePoint): PsObject {
  return cimInstance(
    { cimClass: "Msvm_VirtualSystemReferencePoint", node, referencePoint: rp },
    {
      InstanceID: rp.instanceId,
      ElementName: rp.name,
      ReferencePointType: 2,
      ConsistencyLevel: rp.consistencyLevel,
      VirtualSystemIdentifier: rp.vmId.toUpperCase(),
      HasAssociatedData: false,
      VirtualDiskIdentifiers: rp.disks.map((d) => d.diskId),
      ResilientChangeTrackingIdentifiers: rp.disks.map((d) => d.rctId),
    },
  );
}

const OS_NAMES: Record<string, string> = {
  windows: "Windows Server 2022 Datacenter",
  linux: "Ubuntu 22.04.4 LTS",
  other: "FreeBSD 14.0-RELEASE",
};

/** KVP intrinsic items (embedded Msvm_KvpExchangeDataItem instances): only while the guest's KVP answers. */
function kvpItems(vm: SimVm): PsValue {
  const kvp = vm.ics.find((i) => i.name === "Key-Value Pair Exchange");
  if (vm.state !== "Running" || !kvp?.enabled || kvp.status !== 2) return null;
  const item = (name: string, data: string): string =>
    `<INSTANCE CLASSNAME="Msvm_KvpExchangeDataItem"><PROPERTY NAME="Data" TYPE="string"><VALUE>${data}</VALUE></PROPERTY><PROPERTY NAME="Name" TYPE="string"><VALUE>${name}</VALUE></PROPERTY><PROPERTY NAME="Source" TYPE="uint16"><VALUE>2</VALUE></PROPERTY></INSTANCE>`;
  return [item("FullyQualifiedDomainName", vm.name), item("OSName", OS_NAMES[vm.guestOs] ?? "Unknown")];
}

const SERVICES = [
  "Msvm_VirtualSystemSnapshotService",
  "Msvm_VirtualSystemReferencePointService",
  "Msvm_ImageManagementService",
  "Msvm_VirtualSystemManagementService",
  "Msvm_CollectionSnapshotService",
];

async function enumerateClass(ctx: HostContext, cls: string, node: string): Promise<PsObject[]> {
  const m = ctx.model;
  const vmIdsHere = new Set(vmsOnNode(ctx, node).map((v) => v.id));
  const service = SERVICES.find((s) => s.toLowerCase() === cls.toLowerCase());
  if (service)
    return [
      cimInstance({ cimClass: service, node }, { Name: service.replace(/^Msvm_/, ""), SystemName: node }),
    ];
  switch (cls.toLowerCase()) {
    case "msvm_computersystem":
      return vmsOnNode(ctx, node).map((v) => vmInstance(node, v));
    case "msvm_virtualsystemsettingdata":
      return m.snapshots
        .filter((s) => vmIdsHere.has(s.vmId) || s.collectionId !== undefined)
        .map((s) => snapshotInstance(node, s));
    case "msvm_concretejob": {
      const jobs = [...m.jobs.values()].filter((j) => j.node.toLowerCase() === node.toLowerCase());
      for (const j of jobs) await m.pollJob(j);
      return jobs.map((j) => jobInstance(node, j));
    }
    case "msvm_virtualsystemreferencepoint":
      return m.referencePoints
        .filter(
          (r) => vmIdsHere.has(r.vmId) || m.scenario.guestClusters.some((g) => g.id.toLowerCase() === r.vmId),
        )
        .map((r) => referencePointInstance(node, r));
    case "msvm_kvpexchangecomponent":
      return vmsOnNode(ctx, node).map((v) =>
        cimInstance(
          { cimClass: "Msvm_KvpExchangeComponent", node, vm: v },
          {
            SystemName: v.id.toUpperCase(),
            GuestIntrinsicExchangeItems: kvpItems(v),
          },
        ),
      );
    case "msvm_virtualsystemcollection":
      return m.scenario.guestClusters.map((g) =>
        cimInstance(
          {
            cimClass: "Msvm_VirtualSystemCollection",
            node,
            collection: { id: g.id.toLowerCase(), name: g.name, members: g.members },
          },
          {
            InstanceID: `Microsoft:${g.id.toUpperCase()}`,
            ElementName: g.name,
            CollectionID: g.id.toUpperCase(),
          },
        ),
      );
  }
  throw cimError("Invalid class ", "0x80041010", "GetCimInstance", "MetadataError");
}

function checkNamespace(ns: PsValue | undefined, cmdlet: string): void {
  if (ns === undefined || toStr(ns).toLowerCase() !== NAMESPACE) {
    throw cimError("Invalid namespace ", "0x8004100e", cmdlet, "MetadataError");
  }
}

export function cimCmdlets(ctx: HostContext): Record<string, CmdletDef> {
  return {
    "Get-CimInstance": {
      params: ["Namespace", "ClassName", "ComputerName"],
      async run(call) {
        checkNamespace(call.params.get("namespace"), "GetCimInstance");
        const node = targetNode(ctx, call.params.get("computername"), "GetCimInstance");
        return enumerateClass(ctx, toStr(call.params.get("classname") ?? null), node);
      },
    },
    "Get-CimAssociatedInstance": {
      params: ["InputObject", "ResultClassName"],
      async run(call) {
        const ref = cimRef(call.params.get("inputobject"));
        if (!ref)
          throw cimError("Invalid object path ", "0x8004103a", "GetCimAssociatedInstance", "InvalidArgument");
        const result = toStr(call.params.get("resultclassname") ?? null).toLowerCase();
        const m = ctx.model;
        if (ref.job && result === "msvm_virtualsystemsettingdata")
          return ref.job.result.snapshot ? [snapshotInstance(ref.node, ref.job.result.snapshot)] : [];
        if (ref.job && result === "msvm_virtualsystemreferencepoint")
          return ref.job.result.referencePoint
            ? [referencePointInstance(ref.node, ref.job.result.referencePoint)]
            : [];
        if (ref.vm && result === "msvm_virtualsystemsettingdata")
          return m.snapshots.filter((s) => s.vmId === ref.vm?.id).map((s) => snapshotInstance(ref.node, s));
        if (ref.vm && result === "msvm_virtualsystemreferencepoint")
          return m.referencePoints
            .filter((r) => r.vmId === ref.vm?.id)
            .map((r) => referencePointInstance(ref.node, r));
        if (ref.collection && result === "msvm_computersystem") {
          return ref.collection.members.flatMap((n) => {
            const vm = m.vmByName(n);
            return vm ? [vmInstance(vm.node, vm)] : [];
          });
        }
        if (ref.collection && result === "msvm_virtualsystemsettingdata")
          return m.snapshots
            .filter((s) => s.collectionId === ref.collection?.id)
            .map((s) => snapshotInstance(ref.node, s));
        if (ref.snapshot && result === "msvm_storageallocationsettingdata") {
          return ref.snapshot.frozen.map((f, i) =>
            cimInstance(
              { cimClass: "Msvm_StorageAllocationSettingData", node: ref.node },
              {
                InstanceID: `${ref.snapshot?.instanceId ?? ""}\\${i}`,
                HostResource: [f.file],
                ResourceType: 31,
                ResourceSubType: "Microsoft:Hyper-V:Virtual Hard Disk",
              },
            ),
          );
        }
        return [];
      },
    },
    "Invoke-CimMethod": {
      params: ["InputObject", "MethodName", "Arguments"],
      async run(call) {
        const target = cimRef(call.params.get("inputobject"));
        if (!target)
          throw cimError("Invalid object path ", "0x8004103a", "InvokeCimMethod", "InvalidArgument");
        const args = call.params.get("arguments");
        const table = args instanceof PsHashtable ? args : new PsHashtable();
        targetNode(ctx, target.node, "InvokeCimMethod");
        return [await invokeMethod(ctx, target, toStr(call.params.get("methodname") ?? null), table)];
      },
    },
  };
}
