/**
 * Inventory: every VM with the facts the consistency decision and the backup need, read through one
 * container view per object type and paged RetrievePropertiesEx (VMs, hosts, clusters, datastores,
 * datacenters: five paged reads whatever the VM count), plus power events for powered-off VMs.
 * `toVmInfo` and the tools/guest mappings are pure.
 */
import { z } from "zod";
import PQueue from "p-queue";
import type { GuestOsFamily, PowerState, ToolsState, VmDisk, VmInfo } from "../../src/domain/hypervisor.js";
import type { Logger } from "../../src/domain/ports.js";
import type { VimClient } from "./client.js";
import {
  arr,
  bool,
  byteCount,
  moref,
  parseAnswer,
  snapshotInfoSchema,
  str,
  virtualDeviceSchema,
  type DiskBacking,
  type ObjectContent,
  type SnapshotTree,
} from "./parse.js";
import { retrieveFromView, type TypePaths } from "./property-collector.js";
import { decideShutdown, queryPowerEvents, type ShutdownEvidence } from "./shutdown.js";

export const VM_PATHS = [
  "name",
  "config.instanceUuid",
  "config.guestId",
  "config.template",
  "config.changeTrackingEnabled",
  "config.hardware.device",
  "runtime.powerState",
  "runtime.cleanPowerOff",
  "runtime.host",
  "runtime.connectionState",
  "runtime.consolidationNeeded",
  "guest.toolsRunningStatus",
  "guest.toolsVersionStatus2",
  "guest.toolsStatus",
  "guest.guestFamily",
  "snapshot",
] as const;

export const vmPropsSchema = z.object({
  name: str,
  "config.instanceUuid": str.optional(),
  "config.guestId": str.optional(),
  "config.template": bool.optional(),
  "config.changeTrackingEnabled": bool.optional(),
  "config.hardware.device": arr(virtualDeviceSchema),
  "runtime.powerState": z.enum(["poweredOn", "poweredOff", "suspended"]),
  "runtime.cleanPowerOff": bool.optional(),
  "runtime.host": moref.optional(),
  "runtime.connectionState": str.optional(),
  "runtime.consolidationNeeded": bool.optional(),
  "guest.toolsRunningStatus": str.optional(),
  "guest.toolsVersionStatus2": str.optional(),
  "guest.toolsStatus": str.optional(),
  "guest.guestFamily": str.optional(),
  snapshot: snapshotInfoSchema.optional(),
});
export type VmProps = z.infer<typeof vmPropsSchema>;

/** Names of things the VM points at by moref, read once per inventory. */
export interface InventoryTables {
  readonly hosts: ReadonlyMap<string, { name: string; cluster: string | undefined }>;
  readonly datastores: ReadonlyMap<string, string>;
  /** Datastore moref -> datacenter name (the `dcPath` of /folder URLs). */
  readonly datacenterOf: ReadonlyMap<string, string>;
}

export function propsOf(content: ObjectContent): Record<string, unknown> {
  return Object.fromEntries(content.propSet.map((p) => [p.name, p.val]));
}

export function powerOf(state: VmProps["runtime.powerState"]): PowerState {
  return state === "poweredOn" ? "on" : state === "poweredOff" ? "off" : "suspended";
}

/** Tools as the decision sees them; installed-but-stopped is `not-running` (pure). */
export function toolsOf(
  p: Pick<VmProps, "guest.toolsRunningStatus" | "guest.toolsVersionStatus2" | "guest.toolsStatus">,
): { state: ToolsState; detail: string } {
  const running = p["guest.toolsRunningStatus"];
  const version = p["guest.toolsVersionStatus2"];
  const legacy = p["guest.toolsStatus"];
  const detail = `toolsRunningStatus is ${running ?? "unset"}, toolsVersionStatus2 is ${version ?? "unset"}`;
  if (
    version === "guestToolsNotInstalled" ||
    ((version ?? "") === "" && legacy === "toolsNotInstalled" && running !== "guestToolsRunning")
  )
    return { state: "not-installed", detail };
  if (running === "guestToolsRunning" || running === "guestToolsExecutingScripts")
    return { state: "running", detail };
  return { state: "not-running", detail };
}

/** Guest family from the tools report, else from the configured guestId (pure). */
export function guestOsOf(family: string | undefined, guestId: string | undefined): GuestOsFamily {
  if (family === "windowsGuest") return "windows";
  if (family === "linuxGuest") return "linux";
  const id = (guestId ?? "").toLowerCase();
  if (id.startsWith("win")) return "windows";
  if (
    /linux|rhel|centos|ubuntu|debian|sles|suse|oracle|fedora|photon|asianux|mandr|turbo|coreos|rocky|alma|amazon/.test(
      id,
    )
  )
    return "linux";
  return "other";
}

export function flattenSnapshots(list: readonly SnapshotTree[]): SnapshotTree[] {
  return list.flatMap((node) => [node, ...flattenSnapshots(node.childSnapshotList)]);
}

/** Disks we can protect: not independent (never snapshotted), not physical RDM. */
export function isProtectable(backing: DiskBacking | undefined): boolean {
  if (backing === undefined) return false;
  if (backing.diskMode !== undefined && backing.diskMode.startsWith("independent")) return false;
  return backing.compatibilityMode !== "physicalMode";
}

export function disksOf(p: VmProps, tables: InventoryTables): VmDisk[] {
  return p["config.hardware.device"]
    .filter((d) => d._type === "VirtualDisk" && isProtectable(d.backing))
    .map((d) => {
      const capacity = d.capacityInBytes ?? (d.capacityInKB ?? 0n) * 1024n;
      const ds = d.backing?.datastore?.value;
      return {
        key: String(d.key),
        label: d.deviceInfo?.label ?? `disk ${d.key}`,
        capacity: byteCount(capacity, `capacity of disk ${d.key} of VM "${p.name}"`),
        path: d.backing?.fileName ?? "",
        datastore:
          (ds === undefined ? undefined : tables.datastores.get(ds)) ??
          datastoreFromPath(d.backing?.fileName ?? ""),
        changeTracking: p["config.changeTrackingEnabled"] === true,
        shared: d.backing?.sharing === "sharingMultiWriter",
      };
    });
}

/** `[ds1] vm/disk.vmdk` -> `ds1`. */
export function datastoreFromPath(path: string): string {
  return /^\[([^\]]*)\]/.exec(path)?.[1] ?? "";
}

export function toVmInfo(
  ref: string,
  p: VmProps,
  tables: InventoryTables,
  shutdown: ShutdownEvidence,
): VmInfo {
  const tools = toolsOf(p);
  const host = p["runtime.host"] === undefined ? undefined : tables.hosts.get(p["runtime.host"].value);
  return {
    id: p["config.instanceUuid"] ?? ref,
    name: p.name,
    hypervisor: "vsphere",
    ref,
    host: host?.name ?? p["runtime.host"]?.value ?? "",
    ...(host?.cluster === undefined ? {} : { cluster: host.cluster }),
    guestOs: guestOsOf(p["guest.guestFamily"], p["config.guestId"]),
    power: powerOf(p["runtime.powerState"]),
    tools: tools.state,
    toolsDetail: tools.detail,
    lastShutdown: shutdown.kind,
    lastShutdownDetail: shutdown.detail,
    disks: disksOf(p, tables),
    snapshots: flattenSnapshots(p.snapshot?.rootSnapshotList ?? []).map((s) => s.name),
  };
}

const TABLE_SPECS: readonly TypePaths[] = [
  { type: "HostSystem", paths: ["name", "parent"] },
  { type: "ClusterComputeResource", paths: ["name"] },
  { type: "Datastore", paths: ["name"] },
  { type: "Datacenter", paths: ["name", "datastore"] },
];

/** Lookup tables from the host, cluster, datastore and datacenter objects of one retrieval (pure). */
export function tablesOf(contents: readonly ObjectContent[]): InventoryTables {
  const of = (type: string) => contents.filter((c) => c.obj.type === type);
  const clusterNames = new Map(
    of("ClusterComputeResource").map((c) => [c.obj.value, String(propsOf(c).name)]),
  );
  const dcOf = new Map<string, string>();
  for (const dc of of("Datacenter")) {
    const props = propsOf(dc);
    for (const ds of parseAnswer(arr(moref), props.datastore as never, "Datacenter.datastore"))
      dcOf.set(ds.value, String(props.name));
  }
  return {
    hosts: new Map(
      of("HostSystem").map((h) => {
        const props = propsOf(h);
        const parent = parseAnswer(moref.optional(), props.parent as never, "HostSystem.parent");
        return [
          h.obj.value,
          {
            name: String(props.name),
            cluster: parent === undefined ? undefined : clusterNames.get(parent.value),
          },
        ];
      }),
    ),
    datastores: new Map(of("Datastore").map((d) => [d.obj.value, String(propsOf(d).name)])),
    datacenterOf: dcOf,
  };
}

export async function readTables(client: VimClient, signal?: AbortSignal): Promise<InventoryTables> {
  return tablesOf(await retrieveFromView(client, TABLE_SPECS, { signal }));
}

export interface InventoryOptions {
  readonly logger: Logger;
  readonly pageSize: number;
  readonly eventConcurrency: number;
  readonly signal?: AbortSignal | undefined;
}

export interface InventoryResult {
  readonly vms: VmInfo[];
  readonly props: Map<string, VmProps>;
  readonly tables: InventoryTables;
}

export async function readInventory(client: VimClient, options: InventoryOptions): Promise<InventoryResult> {
  const { signal } = options;
  const contents = await retrieveFromView(
    client,
    [{ type: "VirtualMachine", paths: VM_PATHS }, ...TABLE_SPECS],
    {
      signal,
      pageSize: options.pageSize,
    },
  );
  const tables = tablesOf(contents);
  const props = new Map<string, VmProps>();
  for (const c of contents.filter((o) => o.obj.type === "VirtualMachine"))
    props.set(c.obj.value, parseAnswer(vmPropsSchema, propsOf(c) as never, `properties of ${c.obj.value}`));
  const queue = new PQueue({ concurrency: options.eventConcurrency });
  const vms = await Promise.all(
    [...props].map(([ref, p]) =>
      queue.add(async () => {
        if (p["config.template"] === true) return undefined;
        const events =
          p["runtime.powerState"] === "poweredOff"
            ? await queryPowerEvents(client, { type: "VirtualMachine", value: ref }, signal)
            : [];
        const shutdown =
          p["runtime.powerState"] === "poweredOff"
            ? decideShutdown(p["runtime.cleanPowerOff"], events)
            : { kind: "unknown" as const, detail: `not powered off (${p["runtime.powerState"]})` };
        return toVmInfo(ref, p, tables, shutdown);
      }),
    ),
  );
  const list = vms.filter((v): v is VmInfo => v !== undefined);
  options.logger.debug({ vms: list.length }, "vSphere inventory read");
  return { vms: list, props, tables };
}
