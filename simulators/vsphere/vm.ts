/**
 * A simulated virtual machine and its snapshots: state (power, tools, shutdown evidence, disks, the
 * snapshot tree) and the vim25 properties derived from it (config, runtime, guest, snapshot).
 */
import type { SimDisk } from "./disk.js";
import {
  Entity,
  type ComputeResource,
  type Datacenter,
  type Datastore,
  type HostSystem,
  type ManagedObject,
  type Prop,
  type ResourcePool,
  escapeEntityName,
} from "./inventory.js";
import { Typed, data, type DataObject, type MoRef } from "./vim-value.js";

export type Power = "poweredOn" | "poweredOff" | "suspended";
export type Tools = "running" | "not-running" | "not-installed";

const TOOLS_VERSION = "11360"; // 11.3.0 encoded as (major << 10) + (minor << 5) + revision

export class SimSnapshot implements ManagedObject {
  readonly children: SimSnapshot[] = [];
  parent: SimSnapshot | undefined;
  constructor(
    readonly ref: MoRef,
    readonly id: number,
    readonly vm: VirtualMachine,
    public name: string,
    readonly description: string,
    readonly createTime: Date,
    readonly state: Power,
    readonly quiesced: boolean,
    readonly backupManifest: string | undefined,
    /** changeId of each disk (by key) at the snapshot, when CBT was active. */
    readonly changeIds: ReadonlyMap<number, string>,
  ) {}

  tree(): DataObject {
    return data("VirtualMachineSnapshotTree", {
      snapshot: this.ref,
      vm: this.vm.ref,
      name: this.name,
      description: this.description,
      id: this.id,
      createTime: this.createTime,
      state: this.state,
      quiesced: this.quiesced,
      backupManifest: this.backupManifest,
      childSnapshotList: this.children.map((c) => c.tree()),
      replaySupported: false,
    });
  }

  properties(): Record<string, Prop> {
    return {
      config: ["VirtualMachineConfigInfo", this.vm.configInfo(this)],
      childSnapshot: ["ManagedObjectReference[]", this.children.map((c) => c.ref)],
      vm: ["ManagedObjectReference", this.vm.ref],
    };
  }
}

export interface VmPlacement {
  readonly datacenter: Datacenter;
  readonly host: HostSystem;
  readonly compute: ComputeResource;
  readonly pool: ResourcePool;
  readonly datastores: readonly Datastore[];
}

export class VirtualMachine extends Entity {
  power: Power;
  tools: Tools;
  toolsVersionStatus: string;
  /** runtime.cleanPowerOff: only meaningful (set) while powered off. */
  cleanPowerOff: boolean | undefined;
  bootTime: Date | undefined;
  changeTrackingEnabled = false;
  consolidationNeeded = false;
  readonly extraConfig = new Map<string, string>();
  readonly disks: SimDisk[] = [];
  readonly rootSnapshots: SimSnapshot[] = [];
  current: SimSnapshot | undefined;
  nextSnapshotId = 1;
  changeVersion: Date;

  constructor(
    ref: MoRef,
    name: string,
    readonly instanceUuid: string,
    readonly biosUuid: string,
    readonly guestId: string,
    readonly guestFullName: string,
    public placement: VmPlacement,
    init: { power: Power; tools: Tools; toolsVersionStatus: string; now: Date },
  ) {
    super(ref, name);
    // Entity-name escaping, plus `"` (it cannot appear inside the quoted names of descriptors and .vmx).
    this.vmDir = escapeEntityName(name).replace(/"/g, "%22");
    this.power = init.power;
    this.tools = init.tools;
    this.toolsVersionStatus = init.toolsVersionStatus;
    this.changeVersion = init.now;
  }

  contained(): readonly Entity[] {
    return [];
  }

  get isWindows(): boolean {
    return /^win/i.test(this.guestId) || /windows/i.test(this.guestFullName);
  }

  /** guest.guestFamily as Tools report it. */
  get guestFamily(): string {
    if (this.isWindows) return "windowsGuest";
    return /linux|ubuntu|debian|rhel|centos|sles|suse|photon|oracle|rocky|alma/i.test(this.guestId)
      ? "linuxGuest"
      : "otherGuestFamily";
  }

  /** Tools can quiesce now: installed, running, VM on. */
  get toolsRunning(): boolean {
    return this.power === "poweredOn" && this.tools === "running";
  }

  /** Folder (and file base) name on the datastore: fixed at creation, as a rename keeps the files. */
  readonly vmDir: string;

  allSnapshots(): SimSnapshot[] {
    const out: SimSnapshot[] = [];
    const walk = (list: readonly SimSnapshot[]) => {
      for (const s of list) {
        out.push(s);
        walk(s.children);
      }
    };
    walk(this.rootSnapshots);
    return out;
  }

  override properties(): Record<string, Prop> {
    const snapshots = this.rootSnapshots.length
      ? data("VirtualMachineSnapshotInfo", {
          currentSnapshot: this.current?.ref,
          rootSnapshotList: this.rootSnapshots.map((s) => s.tree()),
        })
      : undefined;
    return {
      ...super.properties(),
      parent: ["ManagedObjectReference", this.parent?.ref],
      resourcePool: ["ManagedObjectReference", this.placement.pool.ref],
      datastore: ["ManagedObjectReference[]", this.placement.datastores.map((d) => d.ref)],
      network: ["ManagedObjectReference[]", []],
      config: ["VirtualMachineConfigInfo", this.configInfo(undefined)],
      runtime: ["VirtualMachineRuntimeInfo", this.runtimeInfo()],
      guest: ["GuestInfo", this.guestInfo()],
      snapshot: ["VirtualMachineSnapshotInfo", snapshots],
      rootSnapshot: ["ManagedObjectReference[]", this.rootSnapshots.map((s) => s.ref)],
    };
  }

  runtimeInfo(): DataObject {
    return data("VirtualMachineRuntimeInfo", {
      host: this.placement.host.ref,
      connectionState: "connected",
      powerState: this.power,
      cleanPowerOff: this.power === "poweredOff" ? this.cleanPowerOff : undefined,
      toolsInstallerMounted: false,
      bootTime: this.power === "poweredOn" ? this.bootTime : undefined,
      numMksConnections: 0,
      consolidationNeeded: this.consolidationNeeded,
    });
  }

  guestInfo(): DataObject {
    const installed = this.tools !== "not-installed";
    const running = this.toolsRunning;
    return data("GuestInfo", {
      toolsStatus: !installed ? "toolsNotInstalled" : running ? "toolsOk" : "toolsNotRunning",
      toolsVersionStatus: installed ? this.toolsVersionStatus : "guestToolsNotInstalled",
      toolsVersionStatus2: installed ? this.toolsVersionStatus : "guestToolsNotInstalled",
      toolsRunningStatus: running ? "guestToolsRunning" : "guestToolsNotRunning",
      toolsVersion: installed ? TOOLS_VERSION : "0",
      guestId: running ? this.guestId : undefined,
      guestFamily: running ? this.guestFamily : undefined,
      guestFullName: running ? this.guestFullName : undefined,
      guestState: running ? "running" : "notRunning",
    });
  }

  /** config of the VM now, or of `snap` (disk backings point to the chain head at the snapshot). */
  configInfo(snap: SimSnapshot | undefined): DataObject {
    const ds = this.placement.datastores[0]!;
    const devices: DataObject[] = [
      data("ParaVirtualSCSIController", {
        key: 1000,
        deviceInfo: data("Description", { label: "SCSI controller 0", summary: "VMware paravirtual SCSI" }),
        controllerKey: 100,
        unitNumber: 3,
        busNumber: 0,
        device: this.disks.map((d) => d.key),
        hotAddRemove: true,
        sharedBus: "noSharing",
        scsiCtlrUnitNumber: 7,
      }),
      ...this.disks.map((d, i) => this.diskDevice(d, i, snap)),
    ];
    return data("VirtualMachineConfigInfo", {
      changeVersion: this.changeVersion.toISOString(),
      modified: new Date(0),
      name: escapeEntityName(this.name),
      guestFullName: this.guestFullName,
      version: "vmx-14",
      uuid: this.biosUuid,
      instanceUuid: this.instanceUuid,
      changeTrackingEnabled: this.changeTrackingEnabled,
      template: false,
      guestId: this.guestId,
      alternateGuestName: "",
      files: data("VirtualMachineFileInfo", {
        vmPathName: `[${ds.name}] ${this.vmDir}/${this.vmDir}.vmx`,
        snapshotDirectory: `[${ds.name}] ${this.vmDir}/`,
        suspendDirectory: `[${ds.name}] ${this.vmDir}/`,
        logDirectory: `[${ds.name}] ${this.vmDir}/`,
      }),
      flags: data("VirtualMachineFlagInfo", {}),
      defaultPowerOps: data("VirtualMachineDefaultPowerOpInfo", {
        powerOffType: "soft",
        suspendType: "hard",
        resetType: "soft",
        defaultPowerOffType: "soft",
        defaultSuspendType: "hard",
        defaultResetType: "soft",
        standbyAction: "checkpoint",
      }),
      hardware: data("VirtualHardware", {
        numCPU: 2,
        numCoresPerSocket: 1,
        memoryMB: 4096,
        device: devices,
      }),
      extraConfig: [...this.extraConfig].map(([key, value]) =>
        data("OptionValue", { key, value: new Typed("xsd:string", value) }),
      ),
    });
  }

  /** Index of the chain link that is `disk`'s head at `snap` (the top now, when `snap` is undefined). */
  headIndex(disk: SimDisk, snap: SimSnapshot | undefined): number {
    if (!snap) return disk.chain.length - 1;
    const created = disk.chain.findIndex((l) => l.createdBy === snap.id);
    if (created < 1) throw new Error(`snapshot ${snap.id} has no redo log on disk ${disk.key}`);
    return created - 1;
  }

  diskDevice(disk: SimDisk, i: number, snap: SimSnapshot | undefined): DataObject {
    const head = this.headIndex(disk, snap);
    const ds =
      this.placement.datastores.find((d) => d.name === disk.datastore) ?? this.placement.datastores[0]!;
    const backing = (index: number, top: boolean): DataObject =>
      data("VirtualDiskFlatVer2BackingInfo", {
        fileName: disk.datastorePath(disk.chain[index]!),
        datastore: ds.ref,
        diskMode: "persistent",
        split: false,
        writeThrough: false,
        thinProvisioned: disk.thin,
        eagerlyScrub: false,
        uuid: disk.uuid.replace(/ /g, "").replace(/^(.{8})(.{4})(.{4})-(.{4})(.{12})$/, "$1-$2-$3-$4-$5"),
        contentId: disk.chain[index]!.cid,
        changeId: top ? (snap ? snap.changeIds.get(disk.key) : disk.tracker?.changeId) : undefined,
        parent: index > 0 ? backing(index - 1, false) : undefined,
        deltaDiskFormat: index > 0 ? "redoLogFormat" : undefined,
        digestEnabled: false,
      });
    return data("VirtualDisk", {
      key: disk.key,
      deviceInfo: data("Description", {
        label: `Hard disk ${i + 1}`,
        summary: `${(disk.capacity / 1024).toLocaleString("en-US")} KB`,
      }),
      backing: backing(head, true),
      controllerKey: 1000,
      unitNumber: disk.unitNumber,
      capacityInKB: Math.floor(disk.capacity / 1024),
      capacityInBytes: disk.capacity,
    });
  }
}
