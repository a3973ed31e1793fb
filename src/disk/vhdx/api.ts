/**
 * Public API of the VHDX writer: create dynamic, fixed and differencing VHDX files, and reopen them
 * for writing. Documented in docs/disk-formats.md; the Hyper-V simulator depends on it.
 */
import { unlink } from "node:fs/promises";
import { throwIfAborted } from "../errors.js";
import { posix } from "node:path";
import { diskError } from "../errors.js";
import { RandomAccessFile } from "../file-source.js";
import type { OpenImageOptions } from "../image-options.js";
import { buildVhdx } from "./create.js";
import { MiB } from "./format.js";
import { openVhdx } from "./open.js";
import { VhdxDisk } from "./reader.js";
import { relativeParentPath, VhdxWriter } from "./writer.js";

export { VhdxWriter } from "./writer.js";

export interface CreateVhdxOptions {
  /** Virtual disk size in bytes, a multiple of the logical sector size. */
  readonly virtualSize: number;
  /** Payload block size: a power of two from 1 MiB to 256 MiB. Default 32 MiB. */
  readonly blockSize?: number;
  /** 512 or 4096. Default 512. */
  readonly logicalSectorSize?: 512 | 4096;
  /** 512 or 4096. Default 4096, as Hyper-V creates them. */
  readonly physicalSectorSize?: 512 | 4096;
  /** Allocate every block now (a "fixed" VHDX; the file is sparse on file systems that allow it). */
  readonly fixed?: boolean;
  /** Page 83 identity of the disk (a GUID); random by default. */
  readonly diskId?: string;
}

/** Creates a new dynamic (or fixed) VHDX at `path` (which must not exist) and opens it for writing. */
export async function createVhdx(path: string, options: CreateVhdxOptions): Promise<VhdxWriter> {
  const image = buildVhdx({
    virtualSize: options.virtualSize,
    blockSize: options.blockSize ?? 32 * MiB,
    logicalSectorSize: options.logicalSectorSize ?? 512,
    physicalSectorSize: options.physicalSectorSize ?? 4096,
    fixed: options.fixed ?? false,
    ...(options.diskId === undefined ? {} : { page83: options.diskId }),
  });
  await writeImage(path, image.pieces, image.fileSize);
  return VhdxWriter.open(path);
}

export interface CreateDifferencingVhdxOptions extends OpenImageOptions {
  /** Block size of the child; default the parent's. */
  readonly blockSize?: number;
  /** The parent's path as Windows sees it, stored as `absolute_win32_path` (optional). */
  readonly parentWin32Path?: string;
}

/**
 * Creates a differencing VHDX (an .avhdx) at `path` whose parent locator names `parentPath` (stored
 * relative to the child, and linked by the parent's DataWriteGuid). The parent must not be written
 * afterwards: its DataWriteGuid would change and the child would no longer open.
 */
export async function createDifferencingVhdx(
  path: string,
  parentPath: string,
  options: CreateDifferencingVhdxOptions = {},
): Promise<VhdxWriter> {
  const parent = await openVhdx(parentPath, options);
  const { metadata, header } = parent.layout;
  await parent.close();
  const locator = new Map<string, string>([
    ["parent_linkage", `{${header.dataWriteGuid.toLowerCase()}}`],
    ["relative_path", relativeParentPath(path, parentPath)],
  ]);
  if (options.parentWin32Path !== undefined) locator.set("absolute_win32_path", options.parentWin32Path);
  const image = buildVhdx({
    virtualSize: metadata.virtualDiskSize,
    blockSize: options.blockSize ?? metadata.blockSize,
    logicalSectorSize: metadata.logicalSectorSize,
    physicalSectorSize: metadata.physicalSectorSize,
    fixed: false,
    parentLocator: locator,
    page83: metadata.page83,
  });
  await writeImage(path, image.pieces, image.fileSize);
  return VhdxWriter.open(path, options);
}

/** Opens an existing VHDX (dynamic, fixed or differencing) to read and write it. */
export function openVhdxForWrite(path: string, options: OpenImageOptions = {}): Promise<VhdxWriter> {
  return VhdxWriter.open(path, options);
}

async function writeImage(
  path: string,
  pieces: readonly { readonly offset: number; readonly bytes: Uint8Array }[],
  fileSize: number,
): Promise<void> {
  if (posix.basename(path) === "")
    throw diskError("DISK_WRITE_INVALID", `Invalid VHDX path "${path}"`, { path });
  const file = await RandomAccessFile.open(path, "create");
  try {
    await file.truncate(fileSize);
    for (const piece of pieces) await file.write(piece.bytes, piece.offset);
    await file.sync();
    await file.close();
  } catch (err) {
    await file.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw err;
  }
}

export interface MergeResult {
  /** The parent the child was merged into (as found through the parent locator). */
  readonly parentPath: string;
  /** Bytes of data and of zeroed areas written into the parent. */
  readonly bytesMerged: number;
}

/**
 * Merges a differencing VHDX into its parent, as Hyper-V does when a checkpoint is deleted: the
 * areas the child defines (data and zeroed blocks) are written into the parent, then the child file
 * is deleted. The parent's DataWriteGuid changes, so other children of that parent stop opening.
 */
export async function mergeDifferencingVhdx(
  childPath: string,
  options: OpenImageOptions = {},
): Promise<MergeResult> {
  const child = await openVhdx(childPath, options);
  let parentPath: string;
  let bytesMerged = 0;
  try {
    const parent = child.parent;
    if (!(parent instanceof VhdxDisk)) {
      throw diskError("DISK_WRITE_INVALID", `"${childPath}" is not a differencing VHDX: nothing to merge`, {
        path: childPath,
      });
    }
    parentPath = parent.layout.path;
    const own = await child.ownExtents(options.signal);
    const target = await openVhdxForWrite(parentPath, options);
    try {
      const buffer = new Uint8Array(MiB);
      for (const e of own.data) {
        for (let at = e.start; at < e.start + e.length; at += MiB) {
          throwIfAborted(options.signal, `Merging "${childPath}"`);
          const piece = buffer.subarray(0, Math.min(MiB, e.start + e.length - at));
          await child.read(piece, at, options.signal);
          await target.write(piece, at, options.signal);
          bytesMerged += piece.length;
        }
      }
      const zeros = new Uint8Array(MiB);
      for (const e of own.zero) {
        for (let at = e.start; at < e.start + e.length; at += MiB) {
          const length = Math.min(MiB, e.start + e.length - at);
          await target.write(zeros.subarray(0, length), at, options.signal);
          bytesMerged += length;
        }
      }
    } finally {
      await target.close();
    }
  } finally {
    await child.close();
  }
  await unlink(childPath);
  return { parentPath, bytesMerged };
}

/** What `Get-VHD` reports about a VHDX file, as the Hyper-V simulator answers it. */
export interface VhdxInfo {
  readonly path: string;
  readonly vhdFormat: "VHDX";
  readonly vhdType: "Fixed" | "Dynamic" | "Differencing";
  /** Virtual size in bytes. */
  readonly size: number;
  /** Bytes the file occupies (its length). */
  readonly fileSize: number;
  readonly blockSize: number;
  readonly logicalSectorSize: number;
  readonly physicalSectorSize: number;
  /** The parent as found through the locator (differencing disks only). */
  readonly parentPath: string | null;
  /** Page 83 identity (`DiskIdentifier` in Get-VHD). */
  readonly diskIdentifier: string;
}

/** Reads the facts `Get-VHD` shows of a VHDX (and checks its parent chain opens). */
export async function describeVhdx(path: string, options: OpenImageOptions = {}): Promise<VhdxInfo> {
  const disk = await openVhdx(path, options);
  try {
    const { metadata, fileSize } = disk.layout;
    const parent = disk.parent instanceof VhdxDisk ? disk.parent.layout.path : null;
    return {
      path,
      vhdFormat: "VHDX",
      vhdType: metadata.hasParent ? "Differencing" : metadata.leaveBlocksAllocated ? "Fixed" : "Dynamic",
      size: metadata.virtualDiskSize,
      fileSize,
      blockSize: metadata.blockSize,
      logicalSectorSize: metadata.logicalSectorSize,
      physicalSectorSize: metadata.physicalSectorSize,
      parentPath: parent,
      diskIdentifier: metadata.page83,
    };
  } finally {
    await disk.close();
  }
}
