/**
 * The state of a simulated Hyper-V host or failover cluster: nodes, VMs, disks as chains of real VHDX
 * files, checkpoints, reference points, RCT change logs, halt events and WMI jobs. Cmdlets and CIM
 * classes (cmdlets-hyperv.ts, cim.ts) read and change it; the control API drives it from outside.
 */
import { randomUUID } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { hostFile, patternBytes, type DiskImages } from "./disks.js";
import { FaultBook } from "./faults.js";
import { IC_STATUS, type Scenario, type ScenarioVm } from "./scenario.js";

export const VSS_IC = "5CED1297-4598-4915-A5FC-AD21BB4D02A4";
export const HEARTBEAT_IC = "84EAAE65-2F2E-45F5-9BB5-0E857DC8EB47";
const OTHER_ICS: Array<[string, string]> = [
  ["9F8233AC-BE49-4C79-8EE3-E7E1985B2077", "Shutdown"],
  ["2497F4DE-E9FA-4204-80E4-4B75C46419C0", "Time Synchronization"],
  ["2A34B1C2-FD73-4043-8A5B-DD2159BC743F", "Key-Value Pair Exchange"],
  ["6C09BB55-D683-4DA0-8931-C9BF705F6480", "Guest Service Interface"],
];

export const VM_STATE = {
  Running: 2,
  Off: 3,
  Saved: 6,
  Paused: 9,
  RunningCritical: 32783,
  OffCritical: 32784,
} as const;
export type VmStateName = keyof typeof VM_STATE;

export interface RctLog {
  epoch: string;
  /** Current generation: writes now are tagged with it; a snapshot closes it. */
  gen: number;
  writes: Array<{ gen: number; start: number; length: number }>;
  /** Why ids of older epochs are invalid (virtdisk error code), set when tracking was reset. */
  resetCode: string | undefined;
}

export interface SimDisk {
  readonly basePath: string;
  readonly size: number;
  readonly diskId: string;
  readonly shared: boolean;
  readonly format: "vhdx" | "vhds";
  /** Windows paths from the base VHDX to the active file. */
  chain: string[];
  rct: RctLog;
}

export interface SimDrive {
  readonly disk: SimDisk;
  readonly controllerType: "SCSI" | "IDE";
  readonly controllerNumber: number;
  readonly location: number;
}

export interface SimIc {
  readonly id: string;
  readonly name: string;
  enabled: boolean;
  /** Status while the VM runs; null when the guest side is absent. */
  status: number | null;
}

export interface FrozenDisk {
  readonly disk: SimDisk;
  /** The file frozen by the checkpoint (what GetVirtualDiskChanges and readers use). */
  readonly file: string;
  /** The differencing child created for new writes. */
  readonly child: string;
  readonly gen: number;
  readonly epoch: string;
}

export interface SimSnapshot {
  readonly instanceId: string;
  readonly vmId: string;
  name: string;
  readonly type: "Recovery" | "Standard" | "Production";
  readonly created: Date;
  readonly consistencyLevel: number;
  readonly frozen: FrozenDisk[];
  readonly collectionId: string | undefined;
}

export interface SimReferencePoint {
  readonly instanceId: string;
  readonly vmId: string;
  readonly name: string;
  readonly consistencyLevel: number;
  readonly disks: Array<{ diskId: string; rctId: string }>;
}

export interface SimVm {
  readonly id: string;
  name: string;
  node: string;
  state: VmStateName;
  readonly generation: number;
  readonly version: string;
  readonly clustered: boolean;
  readonly guestOs: string;
  readonly ics: SimIc[];
  readonly drives: SimDrive[];
}

export interface HaltEvent {
  readonly id: number;
  readonly time: Date;
  readonly vmId: string;
  readonly vmName: string;
  readonly node: string;
}

export interface SimJob {
  readonly instanceId: string;
  readonly method: string;
  readonly node: string;
  state: number;
  errorCode: number;
  errorDescription: string;
  pollsLeft: number;
  run: () => Promise<void>;
  result: { snapshot?: SimSnapshot; referencePoint?: SimReferencePoint };
}

/** Checkpoints open per CSV (or local volume) and per node, as `openCheckpoints()` counts them. */
export interface CheckpointCounts {
  readonly perCsv: Map<string, number>;
  readonly perHost: Map<string, number>;
}

export function rctId(log: RctLog, gen = log.gen): string {
  return `rctX:${log.epoch}:${gen}`;
}

export class HypervModel {
  readonly nodes: Array<{ name: string; state: "Up" | "Down" | "Paused" }>;
  readonly vms: SimVm[] = [];
  readonly disks = new Map<string, SimDisk>();
  readonly snapshots: SimSnapshot[] = [];
  readonly referencePoints: SimReferencePoint[] = [];
  readonly events: HaltEvent[] = [];
  readonly jobs = new Map<string, SimJob>();
  readonly faults: FaultBook;
  /**
   * The most checkpoints open at once per CSV and per node since the model was made (or the counts
   * were reset), updated at each checkpoint's creation, so a rehearsal can check a backup product's
   * per-CSV limit from the host's side.
   */
  readonly maxOpenCheckpoints: CheckpointCounts = { perCsv: new Map(), perHost: new Map() };
  now: () => Date = () => new Date();

  constructor(
    readonly scenario: Scenario,
    readonly root: string,
    readonly images: DiskImages,
  ) {
    this.nodes = scenario.nodes.map((n) => ({ ...n }));
    this.faults = new FaultBook(scenario.faults.filter((f) => f.kind !== "node-down"));
    for (const f of scenario.faults) if (f.kind === "node-down") this.setNodeState(f.node, "Down");
  }

  static async load(scenario: Scenario, root: string, images: DiskImages): Promise<HypervModel> {
    const model = new HypervModel(scenario, root, images);
    for (const v of scenario.vms) await model.#addVm(v);
    return model;
  }

  file(windowsPath: string): string {
    return hostFile(this.root, windowsPath);
  }

  /** A VM created while the simulator runs (New-VM between two backups), built as a scenario VM is. */
  async addVm(v: ScenarioVm): Promise<SimVm> {
    if (!this.node(v.node)) throw new Error(`unknown node "${v.node}"`);
    if (this.vmById(v.id)) throw new Error(`a VM with id ${v.id} already exists`);
    if (this.vmByName(v.name)) throw new Error(`a VM named "${v.name}" already exists`);
    return this.#addVm(v);
  }

  /**
   * Remove-VM: the VM, its checkpoints and reference points leave the host; its virtual disk files
   * stay. As on Hyper-V, a running or paused VM cannot be removed.
   */
  removeVm(vm: SimVm): void {
    if (vm.state === "Running" || vm.state === "Paused" || vm.state === "RunningCritical")
      throw new Error(
        `Remove-VM : The operation cannot be performed while the virtual machine '${vm.name}' is in its current state (${vm.state}).`,
      );
    const dropOwn = <T extends { vmId: string }>(list: T[]) => {
      for (let i = list.length - 1; i >= 0; i--) if (list[i]?.vmId === vm.id) list.splice(i, 1);
    };
    dropOwn(this.snapshots);
    dropOwn(this.referencePoints);
    this.vms.splice(this.vms.indexOf(vm), 1);
  }

  async #addVm(v: ScenarioVm): Promise<SimVm> {
    const installed = v.integrationServices.installed;
    const running = v.state === "Running";
    const icStatus = (spec: { status?: keyof typeof IC_STATUS | undefined } | undefined): number | null => {
      if (!running) return null;
      if (spec?.status) return IC_STATUS[spec.status];
      return installed ? IC_STATUS.OK : IC_STATUS.NoContact;
    };
    const ics: SimIc[] = [
      {
        id: VSS_IC,
        name: "VSS",
        enabled: v.integrationServices.vss?.enabled ?? true,
        status: icStatus(v.integrationServices.vss),
      },
      {
        id: HEARTBEAT_IC,
        name: "Heartbeat",
        enabled: v.integrationServices.heartbeat?.enabled ?? true,
        status: icStatus(v.integrationServices.heartbeat),
      },
      ...OTHER_ICS.map(([id, name]) => ({ id, name, enabled: true, status: icStatus(undefined) })),
    ];
    const vm: SimVm = {
      id: v.id.toLowerCase(),
      name: v.name,
      node: v.node,
      state: v.state,
      generation: v.generation,
      version: v.version,
      clustered: v.clustered,
      guestOs: v.guestOs,
      ics,
      drives: [],
    };
    for (const [i, d] of v.disks.entries()) {
      const key = d.path.toLowerCase();
      let disk = this.disks.get(key);
      if (!disk) {
        const format = d.path.toLowerCase().endsWith(".vhds") ? "vhds" : "vhdx";
        disk = {
          basePath: d.path,
          size: d.size ?? 64 * 2 ** 20,
          diskId: randomUUID().toUpperCase(),
          shared: d.shared,
          format,
          chain: [d.path],
          rct: { epoch: randomUUID(), gen: 1, writes: [], resetCode: undefined },
        };
        if (format === "vhdx") {
          await mkdir(dirname(this.file(d.path)), { recursive: true });
          await this.images.createDynamic(this.file(d.path), disk.size, {
            diskId: disk.diskId,
            ...(d.blockSize ? { blockSize: d.blockSize } : {}),
          });
        }
        this.disks.set(key, disk);
      }
      vm.drives.push({
        disk,
        controllerType: d.controller,
        controllerNumber: d.controllerNumber,
        location: d.location ?? i,
      });
    }
    this.vms.push(vm);
    for (const w of v.writes) {
      const drive = vm.drives[w.disk];
      if (!drive) throw new Error(`VM ${v.name}: write to missing disk ${w.disk}`);
      await this.guestWrite(drive.disk, w.offset, patternBytes(w.seed, w.offset, w.length));
    }
    for (const c of v.checkpoints)
      await this.createCheckpoint(vm, { type: c.type, name: c.name, consistencyLevel: 2 });
    for (const e of v.events) {
      this.events.push({
        id: e.id,
        time: new Date(e.time),
        vmId: vm.id,
        vmName: vm.name,
        node: e.node ?? vm.node,
      });
    }
    return vm;
  }

  node(name: string): { name: string; state: "Up" | "Down" | "Paused" } | undefined {
    return this.nodes.find((n) => n.name.toLowerCase() === name.toLowerCase());
  }

  setNodeState(name: string, state: "Up" | "Down" | "Paused"): void {
    const n = this.node(name);
    if (!n) throw new Error(`unknown node ${name}`);
    n.state = state;
  }

  vmById(id: string): SimVm | undefined {
    return this.vms.find((v) => v.id === id.toLowerCase());
  }

  vmByName(name: string): SimVm | undefined {
    return this.vms.find((v) => v.name.toLowerCase() === name.toLowerCase());
  }

  disk(path: string): SimDisk | undefined {
    return this.disks.get(path.toLowerCase());
  }

  /** The disk whose chain contains `path` (any file: base, frozen parent or active child). */
  diskOfFile(path: string): SimDisk | undefined {
    const p = path.toLowerCase();
    for (const d of this.disks.values()) if (d.chain.some((f) => f.toLowerCase() === p)) return d;
    return undefined;
  }

  /**
   * The cluster shared volume holding `windowsPath` (its path, as Get-ClusterSharedVolume shows it;
   * the longest match wins), or the local volume's root (`D:\`) for a disk outside every CSV.
   */
  volumeOf(windowsPath: string): string {
    const lower = windowsPath.toLowerCase();
    const csv = this.scenario.volumes
      .filter((v) => lower.startsWith(v.path.toLowerCase().replace(/\\+$/, "") + "\\"))
      .sort((a, b) => b.path.length - a.path.length)[0];
    return csv ? csv.path : windowsPath.slice(0, 3).toUpperCase();
  }

  /**
   * Checkpoints open now (created, not yet removed, merged or converted to a reference point). A
   * checkpoint counts once for each CSV holding a disk it froze (its differencing children sit
   * beside those disks) and once for each node running a VM it covers (a collection checkpoint
   * covers every member of the guest cluster).
   */
  openCheckpoints(): CheckpointCounts {
    const perCsv = new Map<string, number>();
    const perHost = new Map<string, number>();
    const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
    for (const snap of this.snapshots) {
      for (const v of new Set(snap.frozen.map((f) => this.volumeOf(f.disk.basePath)))) bump(perCsv, v);
      for (const n of new Set(this.#coveredVms(snap).map((vm) => vm.node))) bump(perHost, n);
    }
    return { perCsv, perHost };
  }

  #coveredVms(snap: SimSnapshot): SimVm[] {
    if (snap.collectionId === undefined) return this.vms.filter((v) => v.id === snap.vmId);
    const group = this.scenario.guestClusters.find(
      (g) => g.id.toLowerCase() === snap.collectionId?.toLowerCase(),
    );
    const members = new Set(group?.members.map((n) => n.toLowerCase()) ?? []);
    return this.vms.filter((v) => members.has(v.name.toLowerCase()));
  }

  #noteOpenCheckpoints(): void {
    const now = this.openCheckpoints();
    for (const which of ["perCsv", "perHost"] as const) {
      const max = this.maxOpenCheckpoints[which];
      for (const [k, n] of now[which]) max.set(k, Math.max(n, max.get(k) ?? 0));
    }
  }

  /** Starts the most-at-once counts again from what is open now. */
  resetMaxOpenCheckpoints(): void {
    this.maxOpenCheckpoints.perCsv.clear();
    this.maxOpenCheckpoints.perHost.clear();
    this.#noteOpenCheckpoints();
  }

  /** A guest write: lands in the active file and is tracked by RCT in the current generation. */
  async guestWrite(disk: SimDisk, offset: number, data: Uint8Array): Promise<void> {
    if (offset < 0 || offset + data.length > disk.size) {
      throw new Error(
        `write [${offset}, +${data.length}) is outside disk ${disk.basePath} of ${disk.size} bytes`,
      );
    }
    const active = disk.chain[disk.chain.length - 1] ?? disk.basePath;
    await this.images.write(this.file(active), offset, data);
    disk.rct.writes.push({ gen: disk.rct.gen, start: offset, length: data.length });
  }

  /** Freezes the active file of each disk under a new differencing child (a checkpoint). */
  async createCheckpoint(
    vm: SimVm,
    opts: {
      type: SimSnapshot["type"];
      name: string;
      consistencyLevel: number;
      disks?: SimDisk[];
      collectionId?: string;
    },
  ): Promise<SimSnapshot> {
    const instanceId = `Microsoft:${randomUUID().toUpperCase()}`;
    const frozen: FrozenDisk[] = [];
    const targets = opts.disks ?? vm.drives.filter((d) => !d.disk.shared).map((d) => d.disk);
    for (const disk of targets) {
      const parent = disk.chain[disk.chain.length - 1] ?? disk.basePath;
      const child =
        parent.replace(/(_[0-9A-F-]{36})?\.a?vhdx$/i, "") + `_${randomUUID().toUpperCase()}.avhdx`;
      await this.images.createDifferencing(this.file(child), this.file(parent), parent);
      disk.chain.push(child);
      frozen.push({ disk, file: parent, child, gen: disk.rct.gen, epoch: disk.rct.epoch });
      disk.rct.gen++;
    }
    const snap: SimSnapshot = {
      instanceId,
      // A guest-cluster collection checkpoint belongs to the collection, not to one member VM.
      vmId: opts.collectionId ?? vm.id,
      name: opts.name,
      type: opts.type,
      created: this.now(),
      consistencyLevel: opts.consistencyLevel,
      frozen,
      collectionId: opts.collectionId,
    };
    this.snapshots.push(snap);
    this.#noteOpenCheckpoints();
    return snap;
  }

  /** Merges the checkpoint's differencing children back into the frozen files and forgets it. */
  async removeCheckpoint(snap: SimSnapshot): Promise<void> {
    for (const f of snap.frozen) {
      const idx = f.disk.chain.findIndex((p) => p.toLowerCase() === f.child.toLowerCase());
      if (idx !== f.disk.chain.length - 1) {
        throw new Error(`cannot merge ${f.child}: it is not the active file of ${f.disk.basePath}`);
      }
      await this.images.merge(this.file(f.child), this.file(f.file));
      f.disk.chain.pop();
    }
    const i = this.snapshots.indexOf(snap);
    if (i >= 0) this.snapshots.splice(i, 1);
  }

  /** Hyper-V resets change tracking (compaction, offline edit, corruption): old ids become invalid. */
  resetTracking(disk: SimDisk, code: string): void {
    disk.rct = { epoch: randomUUID(), gen: disk.rct.gen + 1, writes: [], resetCode: code };
  }

  addHaltEvent(vm: SimVm, id: number): void {
    this.events.push({ id, time: this.now(), vmId: vm.id, vmName: vm.name, node: vm.node });
  }

  newJob(method: string, node: string, run: () => Promise<void>): SimJob {
    const slow = this.faults.take("slow-job", (r) => r.method.toLowerCase() === method.toLowerCase());
    const job: SimJob = {
      instanceId: randomUUID().toUpperCase(),
      method,
      node,
      state: 4,
      errorCode: 0,
      errorDescription: "",
      pollsLeft: slow ? slow.polls : 0,
      run,
      result: {},
    };
    this.jobs.set(job.instanceId, job);
    return job;
  }

  /** A poll of a running job: it completes (running its action) once its polls are used up. */
  async pollJob(job: SimJob): Promise<void> {
    if (job.state !== 4) return;
    if (job.pollsLeft > 0) {
      job.pollsLeft--;
      return;
    }
    try {
      await job.run();
      job.state = 7;
    } catch (err) {
      job.state = 10;
      const e = err as Error & { errorCode?: number };
      job.errorCode = e.errorCode ?? 32768;
      job.errorDescription = e.message;
    }
  }
}

/** A job failure with a WMI error code, as Msvm_ConcreteJob reports it. */
export function jobError(message: string, errorCode = 32768): Error & { errorCode: number } {
  return Object.assign(new Error(message), { errorCode });
}
