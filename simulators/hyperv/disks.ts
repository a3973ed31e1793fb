/**
 * How the simulator keeps virtual disks on the real file system: Windows paths map to files under the
 * simulator's directory (`C:\ClusterStorage\Volume1\a.vhdx` -> `<dir>/C/ClusterStorage/Volume1/a.vhdx`),
 * and the images are VHDX files handled through the `DiskImages` port.
 */
import { join } from "node:path";

export interface DiskImages {
  /** A new dynamic VHDX of `size` bytes (all blocks unallocated). */
  createDynamic(file: string, size: number, options: { blockSize?: number; diskId: string }): Promise<void>;
  /** A differencing (.avhdx) child of `parentFile`; `parentWindowsPath` goes into the parent locator. */
  createDifferencing(file: string, parentFile: string, parentWindowsPath: string): Promise<void>;
  /** Writes guest data into `file` (the active disk of a chain). */
  write(file: string, offset: number, data: Uint8Array): Promise<void>;
  /** Reads the virtual disk seen through `file` and its parents. */
  read(file: string, offset: number, length: number): Promise<Uint8Array>;
  /** Folds a differencing child's data into its parent and deletes the child (a checkpoint merge). */
  merge(childFile: string, parentFile: string): Promise<void>;
}

/** Maps a Windows path to the simulator's file under `root`. */
export function hostFile(root: string, windowsPath: string): string {
  const m = /^([A-Za-z]):\\(.*)$/.exec(windowsPath);
  if (!m?.[1]) throw new Error(`not an absolute Windows path: ${windowsPath}`);
  const parts = (m[2] ?? "").split("\\").filter((p) => p.length > 0);
  for (const p of parts) if (p === "." || p === "..") throw new Error(`path traversal in ${windowsPath}`);
  return join(root, m[1].toUpperCase(), ...parts);
}

/** Deterministic guest data: byte i of a write with `seed` at `offset` (so tests can recompute it). */
export function patternBytes(seed: number, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const x = offset + i;
    out[i] = (Math.imul(x >>> 9, 2654435761) + seed * 97 + (x & 511)) & 0xff;
  }
  return out;
}
