/**
 * The inventory model: managed objects addressed by moref, each exposing its vim25 properties with
 * their declared types (the PropertyCollector walks them). Entities follow vCenter's tree: root
 * folder -> datacenters -> vm/host/datastore folders -> clusters/compute resources -> hosts, VMs.
 */
import type { MoRef } from "./vim-value.js";
import { data, type VimValue } from "./vim-value.js";

/** A top-level property: declared vim25 type (`T[]` for arrays) and value (undefined = unset). */
export type Prop = readonly [type: string, value: VimValue | undefined];

export interface ManagedObject {
  readonly ref: MoRef;
  properties(): Record<string, Prop>;
}

/**
 * vSphere escapes `%`, `/` and `\` in entity names (ManagedEntity.name): "a/b" is reported as "a%2fb".
 */
export function escapeEntityName(name: string): string {
  return name.replace(/%/g, "%25").replace(/\//g, "%2f").replace(/\\/g, "%5c");
}

export abstract class Entity implements ManagedObject {
  parent: Entity | undefined;
  constructor(
    readonly ref: MoRef,
    public name: string,
  ) {}
  /** Children for containment (ContainerView recursion), in inventory order. */
  abstract contained(): readonly Entity[];
  properties(): Record<string, Prop> {
    return {
      name: ["xsd:string", escapeEntityName(this.name)],
      parent: ["ManagedObjectReference", this.parent?.ref],
      overallStatus: ["ManagedEntityStatus", "green"],
    };
  }
}

export class Folder extends Entity {
  readonly children: Entity[] = [];
  constructor(
    ref: MoRef,
    name: string,
    readonly childType: readonly string[],
  ) {
    super(ref, name);
  }
  add(e: Entity): void {
    e.parent = this;
    this.children.push(e);
  }
  contained(): readonly Entity[] {
    return this.children;
  }
  override properties(): Record<string, Prop> {
    return {
      ...super.properties(),
      childEntity: ["ManagedObjectReference[]", this.children.map((c) => c.ref)],
      childType: ["xsd:string[]", [...this.childType]],
    };
  }
}

export class Datacenter extends Entity {
  constructor(
    ref: MoRef,
    name: string,
    readonly vmFolder: Folder,
    readonly hostFolder: Folder,
    readonly datastoreFolder: Folder,
    readonly networkFolder: Folder,
  ) {
    super(ref, name);
    for (const f of [vmFolder, hostFolder, datastoreFolder, networkFolder]) f.parent = this;
  }
  contained(): readonly Entity[] {
    return [this.vmFolder, this.hostFolder, this.datastoreFolder, this.networkFolder];
  }
  override properties(): Record<string, Prop> {
    return {
      ...super.properties(),
      vmFolder: ["ManagedObjectReference", this.vmFolder.ref],
      hostFolder: ["ManagedObjectReference", this.hostFolder.ref],
      datastoreFolder: ["ManagedObjectReference", this.datastoreFolder.ref],
      networkFolder: ["ManagedObjectReference", this.networkFolder.ref],
      datastore: ["ManagedObjectReference[]", this.datastoreFolder.children.map((d) => d.ref)],
      network: ["ManagedObjectReference[]", []],
    };
  }
}

export class Datastore extends Entity {
  readonly vms: Entity[] = [];
  constructor(
    ref: MoRef,
    name: string,
    readonly capacity: number,
    /** Absolute path of the folder holding this datastore's files. */
    readonly root: string,
    readonly datacenter: Datacenter,
  ) {
    super(ref, name);
  }
  contained(): readonly Entity[] {
    return [];
  }
  get url(): string {
    return `ds:///vmfs/volumes/${this.name}/`;
  }
  override properties(): Record<string, Prop> {
    return {
      ...super.properties(),
      summary: [
        "DatastoreSummary",
        data("DatastoreSummary", {
          datastore: this.ref,
          name: this.name,
          url: this.url,
          capacity: this.capacity,
          freeSpace: this.capacity,
          accessible: true,
          multipleHostAccess: false,
          type: "VMFS",
        }),
      ],
      vm: ["ManagedObjectReference[]", this.vms.map((v) => v.ref)],
    };
  }
}

export class HostSystem extends Entity {
  readonly vms: Entity[] = [];
  datastores: Datastore[] = [];
  contained(): readonly Entity[] {
    return this.vms;
  }
  override properties(): Record<string, Prop> {
    return {
      ...super.properties(),
      vm: ["ManagedObjectReference[]", this.vms.map((v) => v.ref)],
      datastore: ["ManagedObjectReference[]", this.datastores.map((d) => d.ref)],
    };
  }
}

export class ResourcePool extends Entity {
  readonly vms: Entity[] = [];
  owner: Entity | undefined;
  contained(): readonly Entity[] {
    return this.vms;
  }
  override properties(): Record<string, Prop> {
    return {
      ...super.properties(),
      owner: ["ManagedObjectReference", this.owner?.ref],
      vm: ["ManagedObjectReference[]", this.vms.map((v) => v.ref)],
      resourcePool: ["ManagedObjectReference[]", []],
    };
  }
}

/** A standalone host's ComputeResource or a ClusterComputeResource (by the moref type). */
export class ComputeResource extends Entity {
  readonly hosts: HostSystem[] = [];
  datastores: Datastore[] = [];
  constructor(
    ref: MoRef,
    name: string,
    readonly resourcePool: ResourcePool,
  ) {
    super(ref, name);
    resourcePool.parent = this;
    resourcePool.owner = this;
  }
  contained(): readonly Entity[] {
    return [...this.hosts, this.resourcePool];
  }
  override properties(): Record<string, Prop> {
    return {
      ...super.properties(),
      host: ["ManagedObjectReference[]", this.hosts.map((h) => h.ref)],
      datastore: ["ManagedObjectReference[]", this.datastores.map((d) => d.ref)],
      resourcePool: ["ManagedObjectReference", this.resourcePool.ref],
    };
  }
}

/** vSphere's managed object type hierarchy, for TraversalSpec/PropertySpec type matching. */
const MO_BASE: Record<string, string> = {
  Folder: "ManagedEntity",
  Datacenter: "ManagedEntity",
  ComputeResource: "ManagedEntity",
  ClusterComputeResource: "ComputeResource",
  ResourcePool: "ManagedEntity",
  HostSystem: "ManagedEntity",
  Datastore: "ManagedEntity",
  VirtualMachine: "ManagedEntity",
  ContainerView: "ManagedObjectView",
  ManagedObjectView: "View",
};

export function isMoSubtype(type: string, ancestor: string): boolean {
  for (let t: string | undefined = type; t; t = MO_BASE[t]) if (t === ancestor) return true;
  return false;
}

/** All entities under `root` (containment order, without duplicates), `root` excluded. */
export function descendants(root: Entity, recursive: boolean): Entity[] {
  const seen = new Set<string>([root.ref.key]);
  const out: Entity[] = [];
  const walk = (e: Entity) => {
    for (const c of e.contained()) {
      if (seen.has(c.ref.key)) continue;
      seen.add(c.ref.key);
      out.push(c);
      if (recursive) walk(c);
    }
  };
  walk(root);
  return out;
}
