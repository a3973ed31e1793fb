/** Builders of inventory and config objects for controller tests. */
import { validateConfig } from "../../src/controller/config.js";
import type { Config, ConfigInput } from "../../src/controller/config-schema.js";
import type { VmDisk, VmInfo } from "../../src/domain/hypervisor.js";

export const MiB = 1024 * 1024;

export function disk(key: string, over: Partial<VmDisk> = {}): VmDisk {
  return {
    key,
    label: `Hard disk ${key}`,
    capacity: 4 * MiB,
    path: `[ds1] vm/disk-${key}.vmdk`,
    datastore: "ds1",
    changeTracking: true,
    shared: false,
    ...over,
  };
}

export function vm(name: string, over: Partial<VmInfo> = {}): VmInfo {
  return {
    id: `id-${name}`,
    name,
    hypervisor: "vsphere",
    ref: `vm-${name}`,
    host: "esx1",
    guestOs: "windows",
    power: "on",
    tools: "running",
    toolsDetail: "toolsRunningStatus is guestToolsRunning",
    lastShutdown: "unknown",
    lastShutdownDetail: "",
    disks: [disk("2000")],
    snapshots: [],
    ...over,
  };
}

/** A validated config with one vSphere endpoint `vc1`, one Hyper-V cluster `c1`, and these groups. */
export function config(groups: ConfigInput["protectionGroups"], limits: ConfigInput["limits"] = {}): Config {
  return validateConfig({
    vsphere: [{ name: "vc1", url: "https://vc1.example/sdk", user: "u", password: { env: "P" } }],
    hyperv: { clusters: [{ name: "c1", nodes: [{ name: "n1", transport: "local" }] }] },
    repository: { path: "/repo" },
    protectionGroups: groups,
    limits,
  });
}
