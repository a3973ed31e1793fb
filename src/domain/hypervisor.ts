/**
 * The hypervisor port: what the controller needs from vSphere and Hyper-V alike. Adapters implement
 * `HypervisorSession`; the controller composes it with the repository. Vendor facts are normalized
 * here (power, tools, shutdown kind) so the consistency decision stays one pure function.
 */
import type { ConsistencyLevel, DiskSource, Extent, Hypervisor } from "./ports.js";

export type PowerState = "on" | "off" | "suspended" | "paused" | "saved";

/**
 * Guest tools (VMware Tools, or Hyper-V's VSS integration service) as the consistency decision sees
 * them: `running` means a quiesce can be asked for now; `not-running` covers installed-but-stopped and
 * a disabled/unhealthy VSS service; `not-installed` means no tools at all.
 */
export type ToolsState = "running" | "not-running" | "not-installed";

/** How a powered-off VM last went down; `unknown` (no evidence) counts as dirty. */
export type ShutdownKind = "clean" | "dirty" | "unknown";

export type GuestOsFamily = "windows" | "linux" | "other";

export type ConsistencyPolicy = "require-application" | "prefer-application" | "crash-only";

export interface VmDisk {
  /** Stable key within the VM: vSphere device key ("2000"), Hyper-V controller location ("scsi0:1"). */
  readonly key: string;
  readonly label: string;
  readonly capacity: number;
  /** Backing file: `[ds1] vm/vm.vmdk` or `C:\ClusterStorage\v1\vm\disk.vhdx`. */
  readonly path: string;
  /** Datastore (vSphere) or CSV / volume (Hyper-V) holding the disk, for per-datastore limits. */
  readonly datastore: string;
  readonly changeTracking: boolean;
  /** Shared VHDX (guest cluster) or multi-writer disk: protected once, by its host/cluster. */
  readonly shared: boolean;
}

export interface VmInfo {
  /** vSphere instance UUID or Hyper-V VM id (GUID). */
  readonly id: string;
  readonly name: string;
  readonly hypervisor: Hypervisor;
  /** vSphere moref ("vm-42") or Hyper-V VM id; what the adapter addresses calls to. */
  readonly ref: string;
  readonly host: string;
  readonly cluster?: string;
  readonly guestOs: GuestOsFamily;
  readonly power: PowerState;
  readonly tools: ToolsState;
  /** Facts behind `tools`, as the hypervisor reported them, for messages. */
  readonly toolsDetail: string;
  readonly lastShutdown: ShutdownKind;
  readonly lastShutdownDetail: string;
  readonly disks: readonly VmDisk[];
  /** Names of snapshots/checkpoints present now (ours and the user's). */
  readonly snapshots: readonly string[];
}

export interface SnapshotRequest {
  readonly jobId: string;
  /** The level decided before the snapshot; `crash` asks for no quiesce at all. */
  readonly expected: ConsistencyLevel;
  readonly policy: ConsistencyPolicy;
  /** Quiesce attempts before the policy decides (prefer: fall back; require: fail). */
  readonly quiesceAttempts: number;
}

export interface SnapshotDisk {
  readonly key: string;
  readonly capacity: number;
  /** CBT changeId or RCT id of this disk at the snapshot, stored on the recovery point. */
  readonly changeId: string | undefined;
}

export interface BackupSnapshot {
  /** Adapter-specific handle (vSphere snapshot moref, Hyper-V snapshot instance id). */
  readonly ref: string;
  readonly name: string;
  readonly achieved: ConsistencyLevel;
  /** Why achieved differs from expected ("" when equal). */
  readonly reason: string;
  readonly disks: readonly SnapshotDisk[];
}

/** Changed areas since a previous point, or a full read with the reason recorded on the point. */
export type ChangedAreas =
  | { readonly kind: "incremental"; readonly extents: readonly Extent[] }
  | {
      readonly kind: "full";
      readonly reason: string;
      /** Allocated areas when known (CBT "*"), else the whole disk is read. */
      readonly extents?: readonly Extent[];
    };

export interface PreviousDiskState {
  readonly changeId: string;
  readonly capacity: number;
}

export interface HypervisorSession {
  inventory(signal?: AbortSignal): Promise<readonly VmInfo[]>;
  /** Removes this product's leftover snapshots/checkpoints of `vm` (never a user's); returns names removed. */
  removeLeftovers(vm: VmInfo, signal?: AbortSignal): Promise<readonly string[]>;
  createSnapshot(vm: VmInfo, request: SnapshotRequest, signal?: AbortSignal): Promise<BackupSnapshot>;
  changedAreas(
    vm: VmInfo,
    snapshot: BackupSnapshot,
    disk: SnapshotDisk,
    previous: PreviousDiskState | undefined,
    signal?: AbortSignal,
  ): Promise<ChangedAreas>;
  /** The disk as it was at snapshot time. */
  openDisk(vm: VmInfo, snapshot: BackupSnapshot, diskKey: string, signal?: AbortSignal): Promise<DiskSource>;
  /** After the point is committed in the repository (Hyper-V: ConvertToReferencePoint). */
  commitSnapshot(vm: VmInfo, snapshot: BackupSnapshot, signal?: AbortSignal): Promise<void>;
  /** Always called, also after failures; consolidates when the hypervisor asks for it. */
  removeSnapshot(vm: VmInfo, snapshot: BackupSnapshot, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** Prefix of every snapshot/checkpoint this product creates; followed by the job id. */
export const SNAPSHOT_PREFIX = "snapvisor-backup-";
