/**
 * `HypervisorSession` for vCenter or a standalone ESXi host: composes the SOAP client, inventory,
 * snapshots, CBT and a disk reader. Holds the last inventory's lookup tables (datastore ->
 * datacenter) for /folder URLs, refreshed when a datastore is unknown.
 */
import PQueue from "p-queue";
import type {
  BackupSnapshot,
  ChangedAreas,
  HypervisorSession,
  PreviousDiskState,
  SnapshotDisk,
  SnapshotRequest,
  VmInfo,
} from "../../src/domain/hypervisor.js";
import type { Clock, DiskSource, Logger } from "../../src/domain/ports.js";
import { isSnapvisorError, messageOf } from "../../src/domain/errors.js";
import { changedAreas, enableCbt } from "./cbt.js";
import type { VimClient } from "./client.js";
import type { VsphereConfig } from "./config.js";
import { FolderFetcher, openSnapshotDisk, parseDatastorePath, type ExtentFetcher } from "./disk-reader.js";
import { vsphereError } from "./errors.js";
import { readInventory, readTables, type InventoryTables } from "./inventory.js";
import { arr, parseAnswer, virtualDeviceSchema } from "./parse.js";
import { readProperties } from "./property-collector.js";
import {
  createBackupSnapshot,
  removeBackupSnapshot,
  removeLeftovers,
  type SnapshotDeps,
} from "./snapshots.js";
import type { WaitOptions } from "./waiters.js";

export interface SessionDeps {
  readonly client: VimClient;
  readonly config: VsphereConfig;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Builds the SSH fetcher when `reader.kind` is `ssh` (kept out of here so ssh2 loads only then). */
  readonly sshFetcher?: ((vmHost: string) => Promise<ExtentFetcher>) | undefined;
}

export class VsphereSession implements HypervisorSession {
  readonly #d: SessionDeps;
  readonly #queues = new Map<string, PQueue>();
  #tables: InventoryTables | undefined;

  constructor(deps: SessionDeps) {
    this.#d = deps;
  }

  get client(): VimClient {
    return this.#d.client;
  }

  #snapshotDeps(): SnapshotDeps {
    const wait: WaitOptions = {
      clock: this.#d.clock,
      sleep: this.#d.sleep,
      timeoutMs: this.#d.config.taskTimeoutMs,
    };
    return {
      client: this.#d.client,
      wait,
      logger: this.#d.logger,
      quiesceRetryDelayMs: this.#d.config.quiesceRetryDelayMs,
    };
  }

  async inventory(signal?: AbortSignal): Promise<readonly VmInfo[]> {
    const result = await readInventory(this.#d.client, {
      logger: this.#d.logger,
      pageSize: this.#d.config.inventoryPageSize,
      eventConcurrency: this.#d.config.eventConcurrency,
      signal,
    });
    this.#tables = result.tables;
    return result.vms;
  }

  removeLeftovers(vm: VmInfo, signal?: AbortSignal): Promise<readonly string[]> {
    return removeLeftovers(this.#snapshotDeps(), vm, signal);
  }

  async createSnapshot(vm: VmInfo, request: SnapshotRequest, signal?: AbortSignal): Promise<BackupSnapshot> {
    const deps = this.#snapshotDeps();
    if (this.#d.config.enableCbt && vm.disks.some((d) => !d.changeTracking)) {
      // Without CBT every backup is a full read (the snapshot then carries no changeId): worse, not wrong.
      await enableCbt(deps, vm, request.jobId, signal).catch((err: unknown) => {
        if (isSnapvisorError(err, "VSPHERE_ABORTED")) throw err;
        this.#d.logger.warn(
          { vm: vm.name, err: messageOf(err) },
          "could not enable changed block tracking; disks will be read in full",
        );
      });
    }
    return createBackupSnapshot(deps, vm, request, signal);
  }

  changedAreas(
    vm: VmInfo,
    snapshot: BackupSnapshot,
    disk: SnapshotDisk,
    previous: PreviousDiskState | undefined,
    signal?: AbortSignal,
  ): Promise<ChangedAreas> {
    return changedAreas({
      client: this.#d.client,
      logger: this.#d.logger,
      vm,
      snapshotRef: snapshot.ref,
      disk,
      previous,
      signal,
    });
  }

  async openDisk(
    vm: VmInfo,
    snapshot: BackupSnapshot,
    diskKey: string,
    signal?: AbortSignal,
  ): Promise<DiskSource> {
    const snap = { type: "VirtualMachineSnapshot", value: snapshot.ref };
    const props = await readProperties(this.#d.client, snap, ["config.hardware.device"], signal);
    const devices = parseAnswer(
      arr(virtualDeviceSchema),
      props.get("config.hardware.device") as never,
      `devices of snapshot ${snapshot.ref}`,
    );
    const device = devices.find((d) => String(d.key) === diskKey && d._type === "VirtualDisk");
    const disk = snapshot.disks.find((d) => d.key === diskKey);
    if (device?.backing === undefined || disk === undefined) {
      throw vsphereError(
        "VSPHERE_DISK_NOT_FOUND",
        `Disk ${diskKey} is not in snapshot "${snapshot.name}" of VM "${vm.name}"`,
      );
    }
    const backing = device.backing;
    // A backing with a parent sits on a user's snapshot chain: the shared VMDK reader follows the
    // -delta (VMFSsparse) / -sesparse redo logs down to the base through parentFileNameHint.
    if (backing.parent !== undefined) {
      this.#d.logger.debug(
        { vm: vm.name, disk: diskKey, file: backing.fileName },
        "reading through a snapshot chain",
      );
    }
    const file = parseDatastorePath(backing.fileName);
    const fetcher = await this.#fetcherFor(backing.datastore?.value, file.datastore, vm, signal);
    const queueKey =
      this.#d.config.reader.kind === "ssh" ? `ssh:${vm.host}` : this.#d.client.transport.origin;
    return openSnapshotDisk(fetcher, file, disk.capacity, {
      queue: this.#queue(queueKey),
      maxFetch: this.#d.config.maxFetchBytes,
      signal,
    });
  }

  async #fetcherFor(
    datastoreRef: string | undefined,
    datastoreName: string,
    vm: VmInfo,
    signal?: AbortSignal,
  ): Promise<ExtentFetcher> {
    if (this.#d.config.reader.kind === "ssh") {
      if (this.#d.sshFetcher === undefined)
        throw vsphereError("VSPHERE_CONFIG_INVALID", "SSH reader configured but not available");
      return this.#d.sshFetcher(vm.host);
    }
    const find = (t: InventoryTables | undefined) =>
      datastoreRef === undefined ? undefined : t?.datacenterOf.get(datastoreRef);
    let dc = find(this.#tables);
    if (dc === undefined) {
      this.#tables = await readTables(this.#d.client, signal);
      dc = find(this.#tables);
    }
    if (dc === undefined)
      throw vsphereError(
        "VSPHERE_DISK_NOT_FOUND",
        `No datacenter holds datastore "${datastoreName}" of VM "${vm.name}"`,
      );
    return new FolderFetcher(this.#d.client, dc);
  }

  #queue(key: string): PQueue {
    let q = this.#queues.get(key);
    if (q === undefined) {
      q = new PQueue({ concurrency: this.#d.config.readConcurrencyPerHost });
      this.#queues.set(key, q);
    }
    return q;
  }

  async commitSnapshot(): Promise<void> {
    // vSphere has nothing to convert after the copy (Hyper-V turns its checkpoint into a reference point).
  }

  removeSnapshot(vm: VmInfo, snapshot: BackupSnapshot, signal?: AbortSignal): Promise<void> {
    return removeBackupSnapshot(this.#snapshotDeps(), vm, snapshot, signal);
  }

  async close(): Promise<void> {
    await this.#d.client.close();
  }
}
