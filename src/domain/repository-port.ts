/**
 * The repository as the backup job sees it: write one recovery point of a machine (a VM, or a shared
 * disk owned by a host/cluster) and find the latest point to base an incremental on. The repository
 * engine implements it; tests use an in-memory fake. Pure types.
 */
import type { ConsistencyRecord, DiskSource, Extent, Hypervisor } from "./ports.js";

/** What a recovery point belongs to. Shared disks are machines of their own, owned by a host/cluster. */
export interface MachineRef {
  /** VM id (vSphere instance UUID, Hyper-V VM id) or `shared:<owner>:<path>` for a shared disk. */
  readonly id: string;
  readonly name: string;
  readonly hypervisor: Hypervisor;
  readonly kind: "vm" | "shared-disk";
}

export interface PointDiskInput {
  readonly key: string;
  readonly capacity: number;
  /**
   * The disk at snapshot time. For a full read the repository reads the areas `source.allocated()`
   * names (all of the disk without it) and stores zeros elsewhere.
   */
  readonly source: DiskSource;
  /**
   * Areas changed since the parent point's same disk (an incremental: everything else comes from
   * the parent), or "all" for a full read. Extents may over-report, never under-report.
   */
  readonly changed: readonly Extent[] | "all";
  /** CBT changeId / RCT id at the snapshot, the base of the next incremental. */
  readonly changeId: string | undefined;
  /** Why this disk was read in full ("" for an incremental), recorded on the point. */
  readonly fullReason: string;
}

/** A disk of this point stored as another machine's point (a shared VHDX read once per cycle). */
export interface PointDiskReference {
  readonly key: string;
  readonly machineId: string;
  readonly pointId: string;
}

export interface WritePointRequest {
  readonly machine: MachineRef;
  readonly jobId: string;
  /** Snapshot time: the point's timestamp. */
  readonly takenAt: Date;
  readonly disks: readonly PointDiskInput[];
  readonly references?: readonly PointDiskReference[];
  readonly consistency: ConsistencyRecord;
  /** Point id the incremental disks are based on. */
  readonly parent?: string;
  readonly signal?: AbortSignal;
  /** Called as bytes are read from the sources, for progress output. */
  readonly onProgress?: (bytesRead: number) => void;
}

export interface PointSummary {
  readonly id: string;
  readonly machineId: string;
  /** Bytes read from the disk sources. */
  readonly bytesRead: number;
  /** Bytes of new chunks stored (after dedup/compression). */
  readonly bytesStored: number;
}

export interface LatestPointDisk {
  readonly key: string;
  readonly capacity: number;
  readonly changeId: string | undefined;
}

export interface LatestPoint {
  readonly id: string;
  readonly takenAt: Date;
  readonly disks: readonly LatestPointDisk[];
}

export interface RepositoryWriter {
  /** Writes every disk, then the manifest last: the point exists only if this resolves. */
  writePoint(request: WritePointRequest): Promise<PointSummary>;
  /** The newest complete (not orphaned) point of a machine, or undefined. */
  latestPoint(machineId: string, signal?: AbortSignal): Promise<LatestPoint | undefined>;
}
