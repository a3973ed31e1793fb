/**
 * The event history (EventManager): power operations, renames and reconfigurations post the vim25
 * events vCenter posts, and QueryEvents filters them by entity (self/children/all), type, time and
 * user, newest first, at most `maxCount` (1000 when unset).
 */
import type { Entity } from "./inventory.js";
import { data, type DataObject, type MoRef, type VimValue } from "./vim-value.js";
import type { VirtualMachine } from "./vm.js";

export interface StoredEvent {
  readonly key: number;
  readonly type: string;
  readonly created: Date;
  readonly userName: string;
  /** Entities the event is about (VM, host, compute resource, datacenter), for entity filters. */
  readonly entities: readonly string[];
  readonly object: DataObject;
}

export interface EventFilter {
  readonly entity?: { readonly ref: MoRef; readonly recursion: "self" | "children" | "all" };
  readonly eventTypeId?: readonly string[];
  readonly beginTime?: Date;
  readonly endTime?: Date;
  readonly userNames?: readonly string[];
  readonly maxCount?: number;
}

const MESSAGES: Record<string, (vm: string, host: string, dc: string) => string> = {
  VmPoweredOffEvent: (vm, host, dc) => `${vm} on ${host} in ${dc} is powered off`,
  VmPoweredOnEvent: (vm, host, dc) => `${vm} on ${host} in ${dc} is powered on`,
  VmStartingEvent: (vm, host, dc) => `${vm} on host ${host} in ${dc} is starting`,
  VmStoppingEvent: (vm, host, dc) => `${vm} on ${host} in ${dc} is stopping`,
  VmSuspendedEvent: (vm, host, dc) => `${vm} on ${host} in ${dc} is suspended`,
  VmSuspendingEvent: (vm, host, dc) => `${vm} on ${host} in ${dc} is being suspended`,
  VmGuestShutdownEvent: (vm, host, dc) => `Guest OS shut down for ${vm} on ${host} in ${dc}`,
  VmResettingEvent: (vm, host, dc) => `${vm} on ${host} in ${dc} is reset`,
  VmReconfiguredEvent: (vm, host, dc) => `Reconfigured ${vm} on ${host} in ${dc}`,
  VmRenamedEvent: (vm, host, dc) => `Renamed ${vm} on ${host} in ${dc}`,
  VmMigratedEvent: (vm, host, dc) => `Migration of virtual machine ${vm} to ${host} in ${dc} completed`,
};

export class EventLog {
  readonly #events: StoredEvent[] = [];
  #nextKey = 1;

  /** Posts a VM event; `extra` holds the type's own fields (oldName, configSpec...). */
  postVm(
    type: string,
    vm: VirtualMachine,
    userName: string,
    now: Date,
    extra: Record<string, VimValue> = {},
  ): StoredEvent {
    const { datacenter, host, compute } = vm.placement;
    const key = this.#nextKey++;
    const message = MESSAGES[type]?.(vm.name, host.name, datacenter.name) ?? type;
    const object = data(type, {
      key,
      chainId: key,
      createdTime: now,
      userName,
      datacenter: data("DatacenterEventArgument", { name: datacenter.name, datacenter: datacenter.ref }),
      computeResource: data("ComputeResourceEventArgument", {
        name: compute.name,
        computeResource: compute.ref,
      }),
      host: data("HostEventArgument", { name: host.name, host: host.ref }),
      vm: data("VmEventArgument", { name: vm.name, vm: vm.ref }),
      fullFormattedMessage: message,
      template: false,
      ...extra,
    });
    const stored = {
      key,
      type,
      created: now,
      userName,
      entities: [vm.ref.key, host.ref.key, compute.ref.key, datacenter.ref.key],
      object,
    };
    this.#events.push(stored);
    return stored;
  }

  latest(): DataObject | undefined {
    return this.#events[this.#events.length - 1]?.object;
  }

  /**
   * Matching events, newest first. `inScope(entityKey)` answers whether an entity is inside the
   * filter's entity scope (the caller resolves recursion over the inventory).
   */
  query(filter: EventFilter, inScope: (entityKeys: readonly string[]) => boolean): DataObject[] {
    const max = filter.maxCount ?? 1000;
    const out: DataObject[] = [];
    for (let i = this.#events.length - 1; i >= 0 && out.length < max; i--) {
      const e = this.#events[i]!;
      if (filter.eventTypeId?.length && !filter.eventTypeId.includes(e.type)) continue;
      if (filter.beginTime && e.created < filter.beginTime) continue;
      if (filter.endTime && e.created > filter.endTime) continue;
      if (filter.userNames?.length && !filter.userNames.includes(e.userName)) continue;
      if (filter.entity && !inScope(e.entities)) continue;
      out.push(e.object);
    }
    return out;
  }
}

/** Entity keys in the scope of an EventFilterSpecByEntity. */
export function entityScope(
  root: Entity,
  recursion: string,
  below: (e: Entity) => readonly Entity[],
): Set<string> {
  const keys = new Set<string>();
  if (recursion === "self" || recursion === "all") keys.add(root.ref.key);
  if (recursion === "children") for (const c of root.contained()) keys.add(c.ref.key);
  if (recursion === "all") for (const d of below(root)) keys.add(d.ref.key);
  return keys;
}
