/** FailoverClusters module cmdlets: nodes, VM groups with their owner node, resources, CSVs. */
import type { CmdletDef } from "./ps/binding.js";
import { PsEnum, PsError, PsObject, toStr, type PsValue } from "./ps/values.js";
import type { SimVm } from "./model.js";
import { isSimVm, link, linked, type HostContext } from "./host-context.js";

const NODE_STATE = { Up: 0, Down: 1, Paused: 2 } as const;

function notClustered(cmdlet: string): PsError {
  return new PsError(
    `${cmdlet} : The cluster service is not running. Make sure that the service is running on all nodes in the cluster.`,
    "Microsoft.FailoverClusters.PowerShell.ClusterCmdletException",
    `ClusterCmdletException,Microsoft.FailoverClusters.PowerShell.${cmdlet.replace("-", "")}Command`,
    "ConnectionError",
    false,
  );
}

function nodeObject(ctx: HostContext, name: string): PsObject {
  const n = ctx.model.node(name);
  const state = n?.state ?? "Down";
  const obj = new PsObject("Microsoft.FailoverClusters.PowerShell.ClusterNode", {
    Name: n?.name ?? name,
    State: new PsEnum("Microsoft.FailoverClusters.PowerShell.ClusterNodeState", state, NODE_STATE[state]),
  });
  obj.toStringValue = () => n?.name ?? name;
  return obj;
}

function groupObject(ctx: HostContext, vm: SimVm): PsObject {
  const down = ctx.model.node(vm.node)?.state === "Down";
  const obj = new PsObject("Microsoft.FailoverClusters.PowerShell.ClusterGroup", {
    Name: vm.name,
    OwnerNode: nodeObject(ctx, vm.node),
    State: new PsEnum(
      "Microsoft.FailoverClusters.PowerShell.ClusterGroupState",
      down ? "Failed" : "Online",
      down ? 2 : 0,
    ),
    GroupType: new PsEnum("Microsoft.FailoverClusters.PowerShell.GroupType", "VirtualMachine", 111),
  });
  obj.toStringValue = () => vm.name;
  return link(obj, vm);
}

export function clusterCmdlets(ctx: HostContext): Record<string, CmdletDef> {
  const cluster = ctx.model.scenario.cluster;
  const guard = (cmdlet: string): void => {
    if (!cluster) throw notClustered(cmdlet);
  };
  const clustered = (): SimVm[] => ctx.model.vms.filter((v) => v.clustered);
  return {
    "Get-Cluster": {
      params: ["Name"],
      async run() {
        guard("Get-Cluster");
        return [new PsObject("Microsoft.FailoverClusters.PowerShell.Cluster", { Name: cluster?.name ?? "" })];
      },
    },
    "Get-ClusterNode": {
      params: ["Name"],
      positional: ["Name"],
      async run() {
        guard("Get-ClusterNode");
        return ctx.model.nodes.map((n) => nodeObject(ctx, n.name));
      },
    },
    "Get-ClusterGroup": {
      params: ["Name"],
      positional: ["Name"],
      async run(call) {
        guard("Get-ClusterGroup");
        const name = call.params.get("name");
        const groups = clustered().filter(
          (v) => name === undefined || v.name.toLowerCase() === toStr(name).toLowerCase(),
        );
        if (name !== undefined && groups.length === 0) {
          throw new PsError(
            `Get-ClusterGroup : The cluster group '${toStr(name)}' was not found.`,
            "Microsoft.FailoverClusters.PowerShell.ClusterCmdletException",
            "ClusterCmdletException,Microsoft.FailoverClusters.PowerShell.GetClusterGroupCommand",
            "ObjectNotFound",
            false,
          );
        }
        return groups.map((v) => groupObject(ctx, v));
      },
    },
    "Get-ClusterResource": {
      params: ["InputObject"],
      async run(call) {
        guard("Get-ClusterResource");
        const groups: PsValue[] = call.params.has("inputobject")
          ? [call.params.get("inputobject") ?? null]
          : call.input;
        return groups.flatMap((g) => {
          const vm = linked(g, isSimVm);
          if (!vm) return [];
          const res = new PsObject("Microsoft.FailoverClusters.PowerShell.ClusterResource", {
            Name: `Virtual Machine ${vm.name}`,
            ResourceType: new PsObject("Microsoft.FailoverClusters.PowerShell.ClusterResourceType", {
              Name: "Virtual Machine",
            }),
            OwnerGroup: vm.name,
          });
          return [link(res, vm)];
        });
      },
    },
    "Get-ClusterParameter": {
      params: ["Name", "InputObject"],
      positional: ["Name"],
      async run(call) {
        guard("Get-ClusterParameter");
        const name = toStr(call.params.get("name") ?? null);
        return call.input.flatMap((r) => {
          const vm = linked(r, isSimVm);
          if (!vm || name.toLowerCase() !== "vmid") return [];
          return [
            new PsObject("Microsoft.FailoverClusters.PowerShell.ClusterParameter", {
              Name: "VmId",
              Value: vm.id,
            }),
          ];
        });
      },
    },
    "Get-ClusterSharedVolume": {
      params: ["Name"],
      async run() {
        guard("Get-ClusterSharedVolume");
        return ctx.model.scenario.volumes.map(
          (v) =>
            new PsObject("Microsoft.FailoverClusters.PowerShell.ClusterSharedVolume", {
              Name: v.name,
              OwnerNode: nodeObject(ctx, v.owner),
              State: new PsEnum(
                "Microsoft.FailoverClusters.PowerShell.ClusterSharedVolumeState",
                "Online",
                2,
              ),
              SharedVolumeInfo: [
                new PsObject("Microsoft.FailoverClusters.PowerShell.ClusterSharedVolumeInfo", {
                  FriendlyVolumeName: v.path,
                }),
              ],
            }),
        );
      },
    },
  };
}
