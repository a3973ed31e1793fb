/**
 * Concurrency limits of a backup job, one p-queue per key: global, per host, per datastore (vSphere),
 * per CSV (Hyper-V), and open snapshots per datastore/CSV. A VM's job takes all its keys before it
 * starts and keeps them until its snapshot is removed.
 *
 * Deadlock freedom: every job acquires its keys in one total order (`compareKeys`) and releases all of
 * them together, so no two jobs can each hold a key the other waits for. The order is narrow first
 * (snapshots, datastore/CSV, host) and global last: a global slot is only taken by a job that holds
 * everything else, so waiting jobs never sit on the global budget.
 */
import PQueue from "p-queue";
import type { VmDisk, VmInfo } from "../domain/hypervisor.js";
import type { Limits } from "./config-schema.js";

export type LimitKind = "snapshots" | "datastore" | "csv" | "host" | "global";

export interface LimitKey {
  readonly kind: LimitKind;
  /** `<source>:<datastore, CSV or host name>`; "" for global. */
  readonly name: string;
}

const kindOrder: readonly LimitKind[] = ["snapshots", "datastore", "csv", "host", "global"];

/** The total order of acquisition (see the module note). */
export function compareKeys(a: LimitKey, b: LimitKey): number {
  const k = kindOrder.indexOf(a.kind) - kindOrder.indexOf(b.kind);
  if (k !== 0) return k;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export function keyId(key: LimitKey): string {
  return key.kind === "global" ? "global" : `${key.kind}:${key.name}`;
}

/**
 * The read slot and the open-snapshot slot of one datastore (vSphere) or CSV/volume (Hyper-V) of
 * `source`. Store names are only unique within a source (every Hyper-V cluster has a
 * `C:\ClusterStorage\Volume1`, every standalone host a `D:\`), so the source is part of the key.
 */
export function storeKeys(hypervisor: VmInfo["hypervisor"], source: string, store: string): LimitKey[] {
  const name = `${source}:${store}`;
  return [
    { kind: hypervisor === "hyperv" ? "csv" : "datastore", name },
    { kind: "snapshots", name },
  ];
}

/**
 * Keys a VM's backup holds: global, its host, and for each datastore/CSV of its own (not shared)
 * disks a read slot and an open-snapshot slot. Shared disks are read by their host/cluster object.
 * `source` is the config source (vSphere endpoint, Hyper-V host or cluster) the VM was found on.
 */
export function keysForVm(vm: Pick<VmInfo, "hypervisor" | "host" | "disks">, source: string): LimitKey[] {
  const stores = new Set(vm.disks.filter((d: VmDisk) => !d.shared).map((d) => d.datastore));
  const keys: LimitKey[] = [
    { kind: "global", name: "" },
    { kind: "host", name: `${source}:${vm.host}` },
  ];
  for (const s of stores) keys.push(...storeKeys(vm.hypervisor, source, s));
  return keys;
}

export interface KeyStats {
  readonly capacity: number;
  readonly active: number;
  /** Highest `active` seen since the limiter was made. */
  readonly maxActive: number;
}

/** Releases every key of an acquisition; idempotent. */
export interface Lease {
  release(): void;
}

interface Slot {
  readonly queue: PQueue;
  readonly capacity: number;
  active: number;
  maxActive: number;
}

export class Limiter {
  readonly #limits: Limits;
  readonly #slots = new Map<string, Slot>();

  constructor(limits: Limits) {
    this.#limits = limits;
  }

  #capacity(kind: LimitKind): number {
    switch (kind) {
      case "global":
        return this.#limits.global;
      case "host":
        return this.#limits.perHost;
      case "datastore":
        return this.#limits.perDatastore;
      case "csv":
        return this.#limits.perCsv;
      case "snapshots":
        return this.#limits.openSnapshotsPerDatastore;
    }
  }

  #slot(key: LimitKey): Slot {
    const id = keyId(key);
    let slot = this.#slots.get(id);
    if (!slot) {
      const capacity = this.#capacity(key.kind);
      slot = { queue: new PQueue({ concurrency: capacity }), capacity, active: 0, maxActive: 0 };
      this.#slots.set(id, slot);
    }
    return slot;
  }

  /** Waits for one slot of `key`; the abort signal only cancels the wait, never a held slot. */
  #acquireOne(key: LimitKey, signal: AbortSignal | undefined): Promise<() => void> {
    const slot = this.#slot(key);
    // p-queue would also free a *running* task's slot on abort; a separate controller, unlinked once
    // the slot is held, keeps the slot until release() however the job ends.
    const waiting = new AbortController();
    const onAbort = () => waiting.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) onAbort();
    return new Promise((resolve, reject) => {
      slot.queue
        .add(
          () =>
            new Promise<void>((free) => {
              signal?.removeEventListener("abort", onAbort);
              slot.active++;
              slot.maxActive = Math.max(slot.maxActive, slot.active);
              let done = false;
              resolve(() => {
                if (done) return;
                done = true;
                slot.active--;
                free();
              });
            }),
          { signal: waiting.signal },
        )
        .catch((err: unknown) => {
          signal?.removeEventListener("abort", onAbort);
          reject(err instanceof Error ? err : new Error(String(err)));
        });
    });
  }

  /** Acquires every key in the global order; on abort, releases what it held and rejects. */
  async acquire(keys: readonly LimitKey[], signal?: AbortSignal): Promise<Lease> {
    const unique = new Map(keys.map((k) => [keyId(k), k]));
    const ordered = [...unique.values()].sort(compareKeys);
    const held: (() => void)[] = [];
    const releaseAll = () => {
      for (const free of held.splice(0).reverse()) free();
    };
    try {
      for (const key of ordered) held.push(await this.#acquireOne(key, signal));
    } catch (err) {
      releaseAll();
      throw err;
    }
    return { release: releaseAll };
  }

  /** Usage per key id (`global`, `host:vc1:esx1`, `datastore:vc1:ds1`, `snapshots:vc1:ds1`, ...). */
  stats(): ReadonlyMap<string, KeyStats> {
    const out = new Map<string, KeyStats>();
    for (const [id, s] of this.#slots)
      out.set(id, { capacity: s.capacity, active: s.active, maxActive: s.maxActive });
    return out;
  }
}
