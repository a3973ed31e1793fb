/**
 * Opens a VMDK: a text descriptor with its extent files, or a sparse file with an embedded descriptor.
 * Extent names must stay inside the descriptor's directory. Children (hosted sparse, ESXi vmfsSparse
 * and seSparse deltas) read through their parent (`parentFileNameHint`, checked by CID).
 */
import { posix } from "node:path";
import type { ByteSource, DiskSource } from "../../domain/ports.js";
import { diskError } from "../errors.js";
import { fileOpener, type OpenImageOptions } from "../image-options.js";
import { looksLikeDescriptor, NO_PARENT_CID, parseDescriptor, type VmdkDescriptor } from "./descriptor.js";
import { VmdkDisk, type OpenedExtent } from "./disk.js";
import { CowdExtent, SeSparseExtent } from "./esx-delta.js";
import { SparseExtent } from "./sparse-extent.js";
import { decodeSparseHeader, isSparseMagic, SECTOR } from "./sparse-header.js";

const MAX_TEXT_DESCRIPTOR = 1024 * 1024;

export async function openVmdk(path: string, options: OpenImageOptions = {}): Promise<VmdkDisk> {
  const source = await fileOpener(options)(path, options.signal);
  return openVmdkSource(source, path, options);
}

/** Opens a VMDK whose first file is already open; the disk owns `source`. */
export async function openVmdkSource(
  source: ByteSource,
  path: string,
  options: OpenImageOptions = {},
  depth = 0,
): Promise<VmdkDisk> {
  const owned: { close(): Promise<void> }[] = [source];
  const closeAll = async (): Promise<void> => {
    for (const o of owned) await o.close().catch(() => undefined);
  };
  try {
    const head = await source.read(0, SECTOR, options.signal);
    let descriptor: VmdkDescriptor;
    let extents: OpenedExtent[];
    if (isSparseMagic(head)) {
      const header = decodeSparseHeader(head, path);
      const sparse = await SparseExtent.open(source, path, options.signal);
      descriptor =
        header.descriptorOffset > 0 && header.descriptorSize > 0
          ? parseDescriptor(
              await source.read(
                header.descriptorOffset * SECTOR,
                // parseDescriptor refuses more than 1 MiB of text; a hostile size must not size the buffer.
                Math.min(header.descriptorSize * SECTOR, MAX_TEXT_DESCRIPTOR + SECTOR),
                options.signal,
              ),
              path,
            )
          : syntheticDescriptor(posix.basename(path), sparse.capacity);
      checkSupported(descriptor, path);
      if (descriptor.extents.length !== 1 || descriptor.extents[0]?.type !== "SPARSE") {
        throw diskError(
          "VMDK_DESCRIPTOR_INVALID",
          `Sparse VMDK "${path}" embeds a descriptor that lists other extents than itself`,
          { path },
        );
      }
      extents = [{ kind: "sparse", start: 0, length: descriptor.capacity, sparse }];
      if (sparse.capacity < descriptor.capacity)
        throw sizeMismatch(path, descriptor.capacity, sparse.capacity);
    } else if (source.size <= MAX_TEXT_DESCRIPTOR && looksLikeDescriptor(head)) {
      descriptor = parseDescriptor(await source.read(0, source.size, options.signal), path);
      checkSupported(descriptor, path);
      extents = await openExtents(descriptor, path, options, owned);
    } else {
      throw diskError("DISK_FORMAT_UNSUPPORTED", `"${path}" is neither a VMDK descriptor nor a sparse VMDK`, {
        path,
      });
    }
    const parent = await openParent(descriptor, path, options, depth);
    return new VmdkDisk(path, descriptor, extents, owned, parent);
  } catch (err) {
    await closeAll();
    throw err;
  }
}

function syntheticDescriptor(file: string, capacity: number): VmdkDescriptor {
  return {
    version: 1,
    cid: NO_PARENT_CID,
    parentCid: NO_PARENT_CID,
    createType: "monolithicSparse",
    extents: [{ access: "RW", sectors: capacity / SECTOR, type: "SPARSE", file, offset: 0 }],
    entries: new Map(),
    capacity,
  };
}

const SPARSE_TYPES = new Set(["SPARSE", "VMFSSPARSE", "SESPARSE"]);

function checkSupported(descriptor: VmdkDescriptor, path: string): void {
  const raw = descriptor.extents.find((e) => e.type === "VMFSRDM" || e.type === "VMFSRAW");
  if (raw !== undefined) {
    throw diskError(
      "DISK_FORMAT_UNSUPPORTED",
      `VMDK "${path}" maps a raw device (extent type ${raw.type}), which has no file to read`,
      {
        path,
        createType: descriptor.createType,
      },
    );
  }
  if (/^vsanSparse$/i.test(descriptor.createType)) {
    throw diskError(
      "VMDK_DELTA_UNSUPPORTED",
      `VMDK "${path}" is a vSAN delta (createType vsanSparse), whose data is not in files`,
      {
        path,
        createType: descriptor.createType,
      },
    );
  }
  if (
    descriptor.parentCid !== NO_PARENT_CID &&
    descriptor.extents.some((e) => !SPARSE_TYPES.has(e.type) && e.type !== "ZERO")
  ) {
    throw diskError(
      "VMDK_DELTA_UNSUPPORTED",
      `VMDK "${path}" has a parent (parentCID ${descriptor.parentCid}) but non-sparse extents`,
      {
        path,
      },
    );
  }
}

/**
 * Resolves an extent or parent file name against the descriptor's directory. Absolute names, drive
 * letters, backslashes and `..` are refused: a descriptor must not make us read other files.
 */
export function resolveSibling(descriptorPath: string, name: string, what: string): string {
  const bad =
    name === "" ||
    name.includes("\0") ||
    name.startsWith("/") ||
    /^[A-Za-z]:/.test(name) ||
    name.includes("\\") ||
    name.split("/").includes("..") ||
    /^[a-z][a-z0-9+.-]*:\/\//i.test(name);
  if (bad) {
    throw diskError(
      "VMDK_EXTENT_INVALID",
      `${what} ${JSON.stringify(name)} of "${descriptorPath}" is not a file beside the descriptor`,
      {
        path: descriptorPath,
        name,
      },
    );
  }
  return posix.join(posix.dirname(descriptorPath), name);
}

async function openExtents(
  descriptor: VmdkDescriptor,
  path: string,
  options: OpenImageOptions,
  owned: { close(): Promise<void> }[],
): Promise<OpenedExtent[]> {
  const open = fileOpener(options);
  const out: OpenedExtent[] = [];
  let start = 0;
  for (const line of descriptor.extents) {
    const length = line.sectors * SECTOR;
    if (line.type === "ZERO") {
      out.push({ kind: "zero", start, length });
    } else {
      const file = resolveSibling(path, line.file ?? "", "Extent file");
      const source = await open(file, options.signal).catch((err: unknown) => {
        throw diskError(
          "VMDK_EXTENT_INVALID",
          `Cannot open extent "${file}" of "${path}": ${(err as Error).message}`,
          { path, file },
          err,
        );
      });
      owned.push(source);
      if (SPARSE_TYPES.has(line.type)) {
        const sparse =
          line.type === "SPARSE"
            ? await SparseExtent.open(source, file, options.signal)
            : line.type === "VMFSSPARSE"
              ? await CowdExtent.open(source, file, options.signal)
              : await SeSparseExtent.open(source, file, options.signal);
        if (sparse.capacity < length) throw sizeMismatch(file, length, sparse.capacity);
        out.push({ kind: "sparse", start, length, sparse });
      } else {
        const fileOffset = line.offset * SECTOR;
        if (source.size < fileOffset + length) {
          throw diskError(
            "VMDK_EXTENT_INVALID",
            `Flat extent "${file}" of "${path}" is ${source.size} bytes, ${fileOffset + length} expected`,
            {
              path,
              file,
              size: source.size,
              expected: fileOffset + length,
            },
          );
        }
        out.push({ kind: "flat", start, length, source, fileOffset });
      }
    }
    start += length;
  }
  return out;
}

async function openParent(
  descriptor: VmdkDescriptor,
  path: string,
  options: OpenImageOptions,
  depth: number,
): Promise<DiskSource | undefined> {
  if (descriptor.parentCid === NO_PARENT_CID) return undefined;
  const hint = descriptor.parentFileNameHint;
  if (hint === undefined || hint === "") {
    throw diskError(
      "VMDK_DELTA_UNSUPPORTED",
      `VMDK "${path}" has a parent (parentCID ${descriptor.parentCid}) but no parentFileNameHint`,
      { path },
    );
  }
  const maxDepth = options.maxChainDepth ?? 64;
  if (depth >= maxDepth)
    throw diskError("VMDK_DESCRIPTOR_INVALID", `VMDK chain of "${path}" is longer than ${maxDepth} files`, {
      path,
    });
  // ESXi writes absolute hints: the caller maps them (datastore paths), else the parent sits beside the child.
  const mapped = hint.startsWith("/") ? options.mapParentPath?.(hint, path) : undefined;
  const parentPath =
    mapped ?? resolveSibling(path, hint.startsWith("/") ? posix.basename(hint) : hint, "Parent file");
  const source = await fileOpener(options)(parentPath, options.signal).catch((err: unknown) => {
    throw diskError(
      "VMDK_DELTA_UNSUPPORTED",
      `Cannot open parent "${parentPath}" of "${path}": ${(err as Error).message}`,
      { path, parentPath },
      err,
    );
  });
  const parent = await openVmdkSource(source, parentPath, options, depth + 1);
  if (parent.descriptor.cid !== descriptor.parentCid || parent.capacity !== descriptor.capacity) {
    await parent.close();
    throw diskError(
      "VMDK_DELTA_UNSUPPORTED",
      `Parent "${parentPath}" of "${path}" has CID ${parent.descriptor.cid} and ${parent.capacity} bytes; the child expects CID ${descriptor.parentCid} and ${descriptor.capacity} bytes`,
      { path, parentPath },
    );
  }
  return parent;
}

function sizeMismatch(path: string, expected: number, actual: number): Error {
  return diskError(
    "VMDK_SPARSE_INVALID",
    `Sparse extent "${path}" holds ${actual} bytes, the descriptor says ${expected}`,
    { path, expected, actual },
  );
}
