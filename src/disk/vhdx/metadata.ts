/**
 * VHDX metadata region: the table of items and the system items (file parameters, sizes, page 83
 * identity, parent locator). Pure decode/encode over the region's bytes.
 */
import { ascii, guidAt, putAscii, putGuid, putU16, putU32, putU64, u16, u32, u64 } from "../bytes.js";
import { diskError } from "../errors.js";
import {
  META_FILE_PARAMETERS,
  META_LOGICAL_SECTOR_SIZE,
  META_PAGE83,
  META_PARENT_LOCATOR,
  META_PHYSICAL_SECTOR_SIZE,
  META_VIRTUAL_DISK_SIZE,
  METADATA_SIGNATURE,
  METADATA_TABLE_SIZE,
  MiB,
} from "./format.js";
import { decodeParentLocator, type ParentLocator } from "./parent-locator.js";

export interface VhdxMetadata {
  readonly blockSize: number;
  readonly leaveBlocksAllocated: boolean;
  readonly hasParent: boolean;
  readonly virtualDiskSize: number;
  readonly logicalSectorSize: number;
  readonly physicalSectorSize: number;
  readonly page83: string;
  readonly parentLocator?: ParentLocator;
}

export interface MetadataItem {
  readonly id: string;
  readonly data: Uint8Array;
  readonly isUser: boolean;
  readonly isVirtualDisk: boolean;
  readonly isRequired: boolean;
}

const KNOWN = new Set([
  META_FILE_PARAMETERS,
  META_VIRTUAL_DISK_SIZE,
  META_PAGE83,
  META_LOGICAL_SECTOR_SIZE,
  META_PHYSICAL_SECTOR_SIZE,
  META_PARENT_LOCATOR,
]);

function invalid(path: string, message: string, details: Record<string, unknown> = {}): Error {
  return diskError("VHDX_METADATA_INVALID", `Invalid VHDX metadata in "${path}": ${message}`, {
    path,
    ...details,
  });
}

export function decodeMetadataItems(region: Uint8Array, path: string): MetadataItem[] {
  if (region.length < METADATA_TABLE_SIZE) throw invalid(path, `region too small (${region.length} bytes)`);
  const signature = ascii(region, 0, 8);
  if (signature !== METADATA_SIGNATURE)
    throw invalid(path, `table signature is ${JSON.stringify(signature)}`);
  const count = u16(region, 10);
  if (count > 2047) throw invalid(path, `entry count ${count} exceeds 2047`);
  const items: MetadataItem[] = [];
  for (let i = 0; i < count; i++) {
    const at = 32 + i * 32;
    const id = guidAt(region, at);
    const offset = u32(region, at + 16);
    const length = u32(region, at + 20);
    const flags = u32(region, at + 24);
    const isRequired = (flags & 4) !== 0;
    if (isRequired && !KNOWN.has(id)) throw invalid(path, `unknown required item ${id}`, { item: id });
    if (length > 0 && (offset < METADATA_TABLE_SIZE || offset + length > region.length)) {
      throw invalid(path, `item ${id} at ${offset} (+${length}) lies outside the region`, {
        item: id,
        offset,
        length,
      });
    }
    if (items.some((it) => it.id === id)) throw invalid(path, `item ${id} listed twice`, { item: id });
    items.push({
      id,
      data: region.subarray(offset, offset + length),
      isUser: (flags & 1) !== 0,
      isVirtualDisk: (flags & 2) !== 0,
      isRequired,
    });
  }
  return items;
}

export function decodeMetadata(region: Uint8Array, path: string): VhdxMetadata {
  const items = decodeMetadataItems(region, path);
  const item = (id: string, name: string, minLength: number): Uint8Array => {
    const found = items.find((it) => it.id === id);
    if (found === undefined) throw invalid(path, `${name} item missing`);
    if (found.data.length < minLength)
      throw invalid(path, `${name} item is ${found.data.length} bytes, expected ${minLength}`);
    return found.data;
  };
  const params = item(META_FILE_PARAMETERS, "file parameters", 8);
  const blockSize = u32(params, 0);
  const flags = u32(params, 4);
  if (blockSize < MiB || blockSize > 256 * MiB || (blockSize & (blockSize - 1)) !== 0) {
    throw invalid(path, `block size ${blockSize} is not a power of two between 1 MiB and 256 MiB`, {
      blockSize,
    });
  }
  const logicalSectorSize = u32(item(META_LOGICAL_SECTOR_SIZE, "logical sector size", 4), 0);
  const physicalSectorSize = u32(item(META_PHYSICAL_SECTOR_SIZE, "physical sector size", 4), 0);
  for (const [name, value] of [
    ["logical", logicalSectorSize],
    ["physical", physicalSectorSize],
  ] as const) {
    if (value !== 512 && value !== 4096)
      throw invalid(path, `${name} sector size is ${value}, expected 512 or 4096`, { [name]: value });
  }
  const virtualDiskSize = u64(
    item(META_VIRTUAL_DISK_SIZE, "virtual disk size", 8),
    0,
    "VHDX_METADATA_INVALID",
    "virtual disk size",
  );
  if (
    virtualDiskSize === 0 ||
    virtualDiskSize % logicalSectorSize !== 0 ||
    virtualDiskSize > 64 * 1024 * 1024 * MiB
  ) {
    throw invalid(
      path,
      `virtual disk size ${virtualDiskSize} is zero, above 64 TiB or not a multiple of ${logicalSectorSize}`,
      {
        virtualDiskSize,
      },
    );
  }
  const page83 = guidAt(item(META_PAGE83, "page 83 data", 16), 0);
  const hasParent = (flags & 2) !== 0;
  const locatorItem = items.find((it) => it.id === META_PARENT_LOCATOR);
  if (hasParent && locatorItem === undefined)
    throw invalid(path, "differencing disk without a parent locator");
  return {
    blockSize,
    leaveBlocksAllocated: (flags & 1) !== 0,
    hasParent,
    virtualDiskSize,
    logicalSectorSize,
    physicalSectorSize,
    page83,
    ...(hasParent && locatorItem !== undefined
      ? { parentLocator: decodeParentLocator(locatorItem.data, path) }
      : {}),
  };
}

/** Encodes a full metadata region (`length` bytes): table, then items from 64 KiB on. */
export function encodeMetadataRegion(items: readonly MetadataItem[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  putAscii(out, 0, METADATA_SIGNATURE);
  putU16(out, 10, items.length);
  let dataAt = METADATA_TABLE_SIZE;
  items.forEach((it, i) => {
    const at = 32 + i * 32;
    putGuid(out, at, it.id);
    putU32(out, at + 16, it.data.length === 0 ? 0 : dataAt);
    putU32(out, at + 20, it.data.length);
    putU32(out, at + 24, (it.isUser ? 1 : 0) | (it.isVirtualDisk ? 2 : 0) | (it.isRequired ? 4 : 0));
    out.set(it.data, dataAt);
    dataAt += Math.ceil(it.data.length / 8) * 8;
  });
  return out;
}

/** The system items a writer emits, in the order Hyper-V lists them. */
export function systemItems(meta: VhdxMetadata, parentLocator?: Uint8Array): MetadataItem[] {
  const params = new Uint8Array(8);
  putU32(params, 0, meta.blockSize);
  putU32(params, 4, (meta.leaveBlocksAllocated ? 1 : 0) | (meta.hasParent ? 2 : 0));
  const size = new Uint8Array(8);
  putU64(size, 0, meta.virtualDiskSize);
  const page83 = new Uint8Array(16);
  putGuid(page83, 0, meta.page83);
  const lss = new Uint8Array(4);
  putU32(lss, 0, meta.logicalSectorSize);
  const pss = new Uint8Array(4);
  putU32(pss, 0, meta.physicalSectorSize);
  const items: MetadataItem[] = [
    { id: META_FILE_PARAMETERS, data: params, isUser: false, isVirtualDisk: false, isRequired: true },
    { id: META_VIRTUAL_DISK_SIZE, data: size, isUser: false, isVirtualDisk: true, isRequired: true },
    { id: META_PAGE83, data: page83, isUser: false, isVirtualDisk: true, isRequired: true },
    { id: META_LOGICAL_SECTOR_SIZE, data: lss, isUser: false, isVirtualDisk: true, isRequired: true },
    { id: META_PHYSICAL_SECTOR_SIZE, data: pss, isUser: false, isVirtualDisk: true, isRequired: true },
  ];
  if (parentLocator !== undefined) {
    items.push({
      id: META_PARENT_LOCATOR,
      data: parentLocator,
      isUser: false,
      isVirtualDisk: false,
      isRequired: true,
    });
  }
  return items;
}
