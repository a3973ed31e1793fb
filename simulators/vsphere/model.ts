/**
 * The simulator's whole state: inventory built from a scenario, sessions, tasks, events and fault
 * rules. Methods here are the model operations the SOAP handlers and the control API call.
 */
import { createHash, randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Clock } from "../../src/domain/ports.js";
import { SimDisk } from "./disk.js";
import { EventLog } from "./events.js";
import { FaultRules } from "./fault-rules.js";
import {
  ComputeResource,
  Datacenter,
  Datastore,
  Folder,
  HostSystem,
  ResourcePool,
  descendants,
  type Entity,
  type ManagedObject,
} from "./inventory.js";
import type { Scenario, ScenarioVm } from "./scenario.js";
import { TaskManager } from "./tasks.js";
import { faults, MoRef } from "./vim-value.js";
import { VirtualMachine } from "./vm.js";

export interface Session {
  readonly key: string;
  readonly userName: string;
  readonly loginTime: Date;
  lastActiveTime: Date;
  callCount: number;
  readonly userAgent: string;
  readonly ipAddress: string;
  /** Session-scoped objects (container views, property filters), removed at logout. */
  readonly owned: Set<string>;
}

/** Deterministic pseudo-random bytes for scenario disk content (xorshift32 from a seed). */
export function patternBytes(seed: number, offset: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  // Seeded per 512-byte sector so any sector-aligned slice of a pattern is reproducible alone.
  for (let s = 0; s < length; s += 512) {
    let x = (seed * 2654435761 + (offset + s) / 512 + 1) >>> 0 || 1;
    for (let i = 0; i < 512 && s + i < length; i += 4) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      out.writeUInt32LE(x, s + i);
    }
  }
  return out;
}

export class VsphereModel {
  readonly objects = new Map<string, ManagedObject>();
  readonly sessions = new Map<string, Session>();
  readonly events = new EventLog();
  readonly faults = new FaultRules();
  readonly tasks: TaskManager;
  readonly rootFolder: Folder;
  readonly datacenters: Datacenter[] = [];
  readonly datastores: Datastore[] = [];
  readonly vms: VirtualMachine[] = [];
  /**
   * The most VMs with open snapshots seen at once per datastore (updated at each snapshot), so a
   * rehearsal can check a backup product's per-datastore snapshot limit from the hypervisor's side.
   */
  readonly maxOpenSnapshots = new Map<string, number>();
  readonly instanceUuid = randomUUID();
  #nextId = 1;
  #listeners = new Set<() => void>();
  /** Authenticated calls left before every session is dropped (session-expiry rule). */
  sessionExpiryCountdown: number | undefined;

  constructor(
    readonly scenario: Scenario,
    /** Folder holding one subfolder per datastore. */
    readonly dir: string,
    readonly clock: Clock,
  ) {
    this.tasks = new TaskManager({
      now: () => clock.now(),
      newRef: (type, prefix) => this.newRef(type, prefix),
      register: (o) => this.register(o),
      changed: () => this.changed(),
    });
    this.rootFolder = new Folder(new MoRef("Folder", "group-d1"), "Datacenters", ["Folder", "Datacenter"]);
    this.register(this.rootFolder);
    for (const dc of scenario.datacenters) this.#buildDatacenter(dc);
    for (const rule of scenario.faults) this.faults.add(rule);
  }

  newRef(type: string, prefix: string): MoRef {
    return new MoRef(type, `${prefix}-${this.#nextId++}`);
  }

  register(o: ManagedObject): void {
    this.objects.set(o.ref.key, o);
  }

  get(ref: MoRef): ManagedObject | undefined {
    return this.objects.get(ref.key);
  }

  /** Notifies WaitForUpdatesEx waiters that something may have changed. */
  changed(): void {
    for (const l of [...this.#listeners]) l();
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Every host with its compute resource and datacenter. */
  hosts(): { host: HostSystem; compute: ComputeResource; datacenter: Datacenter }[] {
    return this.datacenters.flatMap((datacenter) =>
      datacenter.hostFolder.children
        .filter((c): c is ComputeResource => c instanceof ComputeResource)
        .flatMap((compute) => compute.hosts.map((host) => ({ host, compute, datacenter }))),
    );
  }

  /** VMs with at least one snapshot, per datastore holding one of their disks. */
  openSnapshots(): Map<string, number> {
    const out = new Map<string, number>();
    for (const vm of this.vms) {
      if (vm.rootSnapshots.length === 0) continue;
      for (const ds of new Set(vm.disks.map((d) => d.datastore))) out.set(ds, (out.get(ds) ?? 0) + 1);
    }
    return out;
  }

  noteOpenSnapshots(): void {
    for (const [ds, n] of this.openSnapshots()) {
      this.maxOpenSnapshots.set(ds, Math.max(n, this.maxOpenSnapshots.get(ds) ?? 0));
    }
  }

  vmByName(name: string): VirtualMachine | undefined {
    return this.vms.find((v) => v.name === name);
  }

  /** Everything under an entity (for `all` recursion and container views). */
  below(e: Entity): Entity[] {
    return descendants(e, true);
  }

  #folder(name: string, types: string[]): Folder {
    const f = new Folder(this.newRef("Folder", "group"), name, types);
    this.register(f);
    return f;
  }

  #buildDatacenter(spec: Scenario["datacenters"][number]): void {
    const dc = new Datacenter(
      this.newRef("Datacenter", "datacenter"),
      spec.name,
      this.#folder("vm", ["Folder", "VirtualMachine", "VirtualApp"]),
      this.#folder("host", ["Folder", "ComputeResource"]),
      this.#folder("datastore", ["Folder", "Datastore", "StoragePod"]),
      this.#folder("network", ["Folder", "Network", "DistributedVirtualSwitch"]),
    );
    this.register(dc);
    this.rootFolder.add(dc);
    this.datacenters.push(dc);
    const stores = spec.datastores.map((d) => {
      const root = join(this.dir, d.name);
      mkdirSync(root, { recursive: true });
      const ds = new Datastore(this.newRef("Datastore", "datastore"), d.name, d.capacity, root, dc);
      this.register(ds);
      dc.datastoreFolder.add(ds);
      this.datastores.push(ds);
      return ds;
    });
    const hosts = new Map<string, { host: HostSystem; compute: ComputeResource }>();
    const compute = (
      type: "ClusterComputeResource" | "ComputeResource",
      name: string,
      hostNames: string[],
    ) => {
      const pool = new ResourcePool(this.newRef("ResourcePool", "resgroup"), "Resources");
      this.register(pool);
      const cr = new ComputeResource(
        this.newRef(type, type === "ComputeResource" ? "domain-s" : "domain-c"),
        name,
        pool,
      );
      this.register(cr);
      cr.datastores = stores;
      dc.hostFolder.add(cr);
      for (const h of hostNames) {
        const host = new HostSystem(this.newRef("HostSystem", "host"), h);
        host.parent = cr;
        host.datastores = stores;
        this.register(host);
        cr.hosts.push(host);
        hosts.set(h, { host, compute: cr });
      }
    };
    for (const c of spec.clusters)
      compute(
        "ClusterComputeResource",
        c.name,
        c.hosts.map((h) => h.name),
      );
    for (const h of spec.hosts) compute("ComputeResource", h.name, [h.name]);
    for (const v of spec.vms) this.#buildVm(v, dc, hosts.get(v.host)!, stores);
  }

  /**
   * A VM created on `spec.host` while the simulator runs (an admin deploying one between two
   * backups), built as a scenario VM is; posts VmCreatedEvent.
   */
  addVm(spec: ScenarioVm): VirtualMachine {
    const where = this.hosts().find((h) => h.host.name === spec.host);
    if (!where) throw new Error(`no host named ${JSON.stringify(spec.host)}`);
    if (where.datacenter.vmFolder.children.some((c) => c.name === spec.name))
      throw new Error(`a VM named ${JSON.stringify(spec.name)} already exists in ${where.datacenter.name}`);
    const stores = this.datastores.filter((d) => where.datacenter.datastoreFolder.children.includes(d));
    const missing = spec.disks.find((d) => !stores.some((s) => s.name === d.datastore));
    if (missing)
      throw new Error(`no datastore named ${JSON.stringify(missing.datastore)} in ${where.datacenter.name}`);
    const vm = this.#buildVm(spec, where.datacenter, where, stores);
    this.events.postVm("VmCreatedEvent", vm, this.scenario.credentials.user, this.clock.now());
    this.changed();
    return vm;
  }

  /**
   * UnregisterVM: the VM leaves the inventory (its files stay on the datastores). As in vSphere, a
   * powered-on VM cannot be unregistered. Posts VmRemovedEvent.
   */
  unregisterVm(vm: VirtualMachine): void {
    if (vm.power === "poweredOn") throw faults.invalidPowerState("poweredOff", vm.power);
    this.events.postVm("VmRemovedEvent", vm, this.scenario.credentials.user, this.clock.now());
    const drop = <T>(list: T[], item: T) => {
      const i = list.indexOf(item);
      if (i >= 0) list.splice(i, 1);
    };
    const { datacenter, host, pool } = vm.placement;
    drop(datacenter.vmFolder.children, vm);
    drop(host.vms, vm);
    drop(pool.vms, vm);
    for (const ds of this.datastores) drop(ds.vms, vm);
    drop(this.vms, vm);
    for (const s of vm.allSnapshots()) this.objects.delete(s.ref.key);
    this.objects.delete(vm.ref.key);
    for (const d of vm.disks) d.close();
    this.changed();
  }

  #buildVm(
    spec: ScenarioVm,
    dc: Datacenter,
    where: { host: HostSystem; compute: ComputeResource },
    stores: Datastore[],
  ): VirtualMachine {
    const now = this.clock.now();
    const vmStores = stores.filter((s) => spec.disks.some((d) => d.datastore === s.name));
    const instanceUuid = spec.instanceUuid ?? uuidFrom(`instance:${spec.name}`);
    const vm = new VirtualMachine(
      this.newRef("VirtualMachine", "vm"),
      spec.name,
      instanceUuid,
      uuidFrom(`bios:${spec.name}`),
      spec.guest.id,
      spec.guest.fullName,
      {
        datacenter: dc,
        host: where.host,
        compute: where.compute,
        pool: where.compute.resourcePool,
        datastores: vmStores,
      },
      {
        power: spec.power === "on" ? "poweredOn" : spec.power === "off" ? "poweredOff" : "suspended",
        tools: spec.tools,
        toolsVersionStatus: spec.toolsVersionStatus ?? "guestToolsCurrent",
        now,
      },
    );
    this.register(vm);
    dc.vmFolder.add(vm);
    where.host.vms.push(vm);
    where.compute.resourcePool.vms.push(vm);
    for (const s of vmStores) s.vms.push(vm);
    if (vm.power === "poweredOn") vm.bootTime = now;
    const user = this.scenario.credentials.user;
    // The history a powered-off VM carries: evidence of how it went down.
    switch (spec.lastShutdown) {
      case "guest-shutdown":
        vm.cleanPowerOff = true;
        this.events.postVm("VmGuestShutdownEvent", vm, user, now);
        this.events.postVm("VmPoweredOffEvent", vm, user, now);
        break;
      case "power-off":
        vm.cleanPowerOff = true;
        this.events.postVm("VmStoppingEvent", vm, user, now);
        this.events.postVm("VmPoweredOffEvent", vm, user, now);
        break;
      case "crash":
        vm.cleanPowerOff = false;
        break;
      default:
        break;
    }
    if (vm.power === "poweredOn") {
      this.events.postVm("VmStartingEvent", vm, user, now);
      this.events.postVm("VmPoweredOnEvent", vm, user, now);
    }
    spec.disks.forEach((d, i) => {
      const ds = stores.find((s) => s.name === d.datastore)!;
      const vmDirPath = join(ds.root, vm.vmDir);
      mkdirSync(vmDirPath, { recursive: true });
      const disk = new SimDisk({
        key: 2000 + i,
        unitNumber: i < 7 ? i : i + 1,
        capacity: d.capacity,
        datastore: ds.name,
        vmDirPath,
        vmDir: vm.vmDir,
        baseName: i === 0 ? vm.vmDir : `${vm.vmDir}_${i}`,
        thin: d.thin,
        cbtBlockSize: this.scenario.options.cbtBlockSize,
      });
      for (const w of d.data) {
        disk.write(
          w.offset,
          w.zero || w.seed === undefined ? Buffer.alloc(w.length) : patternBytes(w.seed, w.offset, w.length),
        );
      }
      vm.disks.push(disk);
    });
    const home = join(vmStores[0]!.root, vm.vmDir);
    writeFileSync(join(home, `${vm.vmDir}.vmx`), vmxText(vm));
    if (spec.changeTracking) {
      vm.changeTrackingEnabled = true;
      for (const d of vm.disks) d.activateTracking(this.scenario.options.cbtBlockSize);
    }
    this.vms.push(vm);
    return vm;
  }

  close(): void {
    for (const vm of this.vms) for (const d of vm.disks) d.close();
  }
}

function uuidFrom(seed: string): string {
  const h = createHash("sha256").update(seed).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function vmxText(vm: VirtualMachine): string {
  const lines = [
    '.encoding = "UTF-8"',
    'config.version = "8"',
    'virtualHW.version = "14"',
    `displayName = "${vm.name.replace(/"/g, "|22")}"`,
    `guestOS = "${vm.guestId.replace(/Guest$/, "")}"`,
    `uuid.bios = "${vm.biosUuid}"`,
    `vc.uuid = "${vm.instanceUuid}"`,
    `ctkEnabled = "${vm.changeTrackingEnabled ? "TRUE" : "FALSE"}"`,
    ...vm.disks.flatMap((d) => [
      `scsi0:${d.unitNumber}.present = "TRUE"`,
      `scsi0:${d.unitNumber}.fileName = "${d.top.descriptor}"`,
    ]),
    "",
  ];
  return lines.join("\n");
}
