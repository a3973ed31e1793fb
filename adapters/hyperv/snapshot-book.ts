/** What the session remembers about the checkpoints it created, by BackupSnapshot.ref. */
import { hypervError } from "./errors.js";

export interface DiskAtSnapshot {
  /** The file frozen by the checkpoint (read for the copy, asked for RCT changes). */
  readonly path: string;
  readonly capacity: number;
  /** VHDX virtual disk id (page 83): pairs disks with reference point identifiers. */
  readonly diskId: string;
}

export interface CollectionSnapshot {
  readonly id: string;
  readonly instanceId: string;
  readonly disks: readonly DiskAtSnapshot[];
  /** Converted or destroyed already. */
  done: boolean;
}

export interface SnapState {
  readonly vm: string;
  /** VirtualSystemIdentifier the reference points of this checkpoint carry. */
  readonly owner: string;
  readonly instanceId: string;
  readonly name: string;
  /** ConsistencyLevel asked and granted (1 application, 2 crash). */
  readonly level: number;
  readonly disks: Map<string, DiskAtSnapshot>;
  /** Shared disks of the VM, frozen lazily through a collection checkpoint by the VM that reads them. */
  readonly shared: Map<string, DiskAtSnapshot>;
  collection: CollectionSnapshot | undefined;
  committed: boolean;
}

export class SnapshotBook {
  readonly #states = new Map<string, SnapState>();

  add(state: SnapState): void {
    this.#states.set(state.instanceId, state);
  }

  find(ref: string): SnapState | undefined {
    return this.#states.get(ref);
  }

  get(ref: string): SnapState {
    const s = this.#states.get(ref);
    if (!s) throw hypervError("HYPERV_DISK_NOT_FOUND", `Checkpoint ${ref} was not created by this session`);
    return s;
  }

  delete(ref: string): void {
    this.#states.delete(ref);
  }
}
