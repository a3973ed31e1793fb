/**
 * From what the host reported to the product's VmInfo (pure): power normalized, integration services
 * matched by component id (never by localized name), guest OS from KVP, disks keyed by controller
 * location with their CSV, shared disks flagged.
 */
import type {
  GuestOsFamily,
  PowerState,
  ShutdownKind,
  ToolsState,
  VmDisk,
  VmInfo,
} from "../../src/domain/hypervisor.js";
import type { ClusterInfo, NodeVm } from "./script-schemas.js";

export const VSS_IC_ID = "5CED1297-4598-4915-A5FC-AD21BB4D02A4";
export const HEARTBEAT_IC_ID = "84EAAE65-2F2E-45F5-9BB5-0E857DC8EB47";

export function powerOf(state: string): PowerState {
  if (state === "Running" || state === "RunningCritical") return "on";
  if (
    state === "Saved" ||
    state === "FastSaved" ||
    state === "SavedCritical" ||
    state === "FastSavedCritical"
  )
    return "saved";
  if (state === "Paused" || state === "PausedCritical") return "paused";
  if (state === "Off" || state === "OffCritical") return "off";
  // Transitional states (Starting, Stopping, Saving...) are treated as running: the guest may write.
  return "on";
}

function icById(vm: NodeVm, id: string): NodeVm["IntegrationServices"][number] | undefined {
  return vm.IntegrationServices.find((ic) => ic.Id.toUpperCase().endsWith(`\\${id}`));
}

/** VSS usable = host switch on and the guest answering OK; the heartbeat says the guest is up. */
export function toolsOf(vm: NodeVm): { tools: ToolsState; detail: string } {
  const vss = icById(vm, VSS_IC_ID);
  const hb = icById(vm, HEARTBEAT_IC_ID);
  const vssStatus = vss?.PrimaryOperationalStatus ?? null;
  const hbStatus = hb?.PrimaryOperationalStatus ?? null;
  const detail = `VSS ${vss ? (vss.Enabled ? "enabled" : "disabled") : "absent"}, status ${vssStatus ?? "none"}; Heartbeat status ${hbStatus ?? "none"}`;
  if (!vss) return { tools: "not-installed", detail };
  if (powerOf(vm.State) !== "on") {
    // Off/saved VMs report no status; "installed" is what the decision needs for them.
    return { tools: vss.Enabled ? "not-running" : "not-running", detail };
  }
  if (vss.Enabled && vssStatus === "OK" && (hbStatus === "OK" || hbStatus === "Degraded"))
    return { tools: "running", detail };
  if (vssStatus === "NoContact" && (hbStatus === "NoContact" || hbStatus === null))
    return { tools: "not-installed", detail };
  return { tools: "not-running", detail };
}

/** OSName from the KVP intrinsic items (embedded Msvm_KvpExchangeDataItem instances). */
export function guestOsOf(items: readonly string[]): { family: GuestOsFamily; name: string } {
  for (const item of items) {
    if (!/<VALUE>OSName<\/VALUE>/.test(item)) continue;
    const data = /<PROPERTY NAME="Data"[^>]*><VALUE>([^<]*)<\/VALUE>/.exec(item)?.[1] ?? "";
    const family: GuestOsFamily = /windows/i.test(data)
      ? "windows"
      : /linux|ubuntu|debian|red hat|centos|suse|rocky|alma|oracle/i.test(data)
        ? "linux"
        : "other";
    return { family, name: data };
  }
  return { family: "other", name: "" };
}

export function diskKey(d: NodeVm["Disks"][number]): string {
  return `${d.ControllerType.toLowerCase()}${d.ControllerNumber}:${d.ControllerLocation}`;
}

/** The CSV holding `path` (longest matching volume path), or the drive root. */
export function volumeOf(path: string, volumes: ClusterInfo["Volumes"]): string {
  const lower = path.toLowerCase();
  const csv = volumes
    .filter((v) => lower.startsWith(v.Path.toLowerCase() + "\\"))
    .sort((a, b) => b.Path.length - a.Path.length)[0];
  return csv ? csv.Path : path.slice(0, 3);
}

function versionAtLeast(version: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = version.split(".").map((x) => Number(x));
  return a > major || (a === major && b >= minor);
}

export function isSharedDisk(d: NodeVm["Disks"][number]): boolean {
  return d.SupportPersistentReservations || /\.vhds$/i.test(d.Path);
}

export function toVmInfo(
  vm: NodeVm,
  topology: ClusterInfo,
  node: string,
  shutdown: { kind: ShutdownKind; detail: string },
): VmInfo {
  const { tools, detail } = toolsOf(vm);
  const guest = guestOsOf(vm.GuestItems);
  const power = powerOf(vm.State);
  const disks: VmDisk[] = vm.Disks.map((d) => ({
    key: diskKey(d),
    label: `${d.ControllerType} ${d.ControllerNumber}:${d.ControllerLocation}`,
    capacity: d.Size ?? 0,
    path: d.Path,
    datastore: volumeOf(d.Path, topology.Volumes),
    // RCT needs configuration version 6.2 or later and a VHDX.
    changeTracking: versionAtLeast(vm.Version, 6, 2) && /\.a?vhdx$/i.test(d.Path),
    shared: isSharedDisk(d),
  }));
  return {
    id: vm.Id.toLowerCase(),
    name: vm.Name,
    hypervisor: "hyperv",
    ref: vm.Id.toLowerCase(),
    host: node,
    ...(topology.Cluster ? { cluster: topology.Cluster } : {}),
    guestOs: guest.family,
    power,
    tools,
    toolsDetail: `${detail}${guest.name ? `; guest OS ${guest.name}` : ""}; state ${vm.State}`,
    lastShutdown: power === "off" ? shutdown.kind : "unknown",
    lastShutdownDetail: power === "off" ? shutdown.detail : "",
    disks,
    snapshots: vm.Checkpoints.map((c) => c.Name),
  };
}
