/**
 * Ports: the shapes the controller composes. Adapters (vSphere, Hyper-V, image files) implement the
 * disk-source side, the repository implements the sink side. Pure types, no Node imports.
 */

/** A byte range of a disk. `start` and `length` are byte counts below 2^53 (8 PiB). */
export interface Extent {
  readonly start: number;
  readonly length: number;
}

export type Hypervisor = "vsphere" | "hyperv" | "image";

export type ConsistencyLevel = "application" | "filesystem" | "crash";

/** What was expected before the snapshot, what was achieved after it, and why they differ. */
export interface ConsistencyRecord {
  readonly expected: ConsistencyLevel;
  readonly achieved: ConsistencyLevel;
  readonly reason: string;
}

/**
 * Random-access, read-only view of one disk as it was at snapshot time. Reads past `capacity` are an
 * error. Implementations: a raw file, a VMDK/VHDX parser over a byte source, an HTTPS `/folder` reader.
 */
export interface DiskSource {
  readonly capacity: number;
  /**
   * Fills `target` with bytes from `offset`; returns the number of bytes read (less than
   * `target.length` only at the end of the disk). Unallocated areas read as zeros.
   */
  read(target: Uint8Array, offset: number, signal?: AbortSignal): Promise<number>;
  /**
   * Areas that may hold data (allocated, or unknown). Readers that know a disk's allocation map
   * (sparse VMDK, dynamic VHDX) answer precisely; others answer the whole disk.
   */
  allocated?(signal?: AbortSignal): Promise<readonly Extent[]>;
  close(): Promise<void>;
}

/** Random-access byte source under a disk format parser (local file, SFTP, HTTPS Range). */
export interface ByteSource {
  readonly size: number;
  /** Reads exactly `length` bytes at `offset` (fewer only at the end of the source). */
  read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array>;
  /**
   * Optional: reads into `target` at `offset` (as many bytes as fit, fewer only at the end of the
   * source) and returns the count: for sources that can fill a caller's buffer without a copy.
   */
  readInto?(target: Uint8Array, offset: number, signal?: AbortSignal): Promise<number>;
  /**
   * Optional: the extents that may hold data (everything else reads as zeros), or undefined when
   * the source cannot tell: a sparse local file's holes are then never read.
   */
  dataExtents?(signal?: AbortSignal): Promise<readonly Extent[] | undefined>;
  close(): Promise<void>;
}

/** Injected clock: decisions take `now`, loops take a Clock. */
export interface Clock {
  now(): Date;
}

/** Structured logger shape (pino-compatible subset); core code gets a no-op by default. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export const noopLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return noopLogger;
  },
};
