/**
 * VHD (v1, "conectix") footer and dynamic disk header: pure big-endian decoders with checksum checks.
 * Fixed disks are raw data followed by the footer; dynamic and differencing disks keep a copy of the
 * footer at the start, a dynamic header, a BAT of u32 sector offsets and blocks of bitmap + data.
 */
import { ascii } from "../bytes.js";
import { diskError } from "../errors.js";

export const VHD_FIXED = 2;
export const VHD_DYNAMIC = 3;
export const VHD_DIFFERENCING = 4;
export const BAT_UNUSED = 0xffffffff;

export interface VhdFooter {
  readonly dataOffset: bigint;
  readonly creatorApp: string;
  readonly currentSize: number;
  readonly cylinders: number;
  readonly heads: number;
  readonly sectorsPerTrack: number;
  readonly diskType: number;
  readonly uniqueId: string;
}

export interface ParentLocatorEntry {
  readonly platformCode: string;
  readonly dataLength: number;
  readonly dataOffset: number;
}

export interface VhdDynamicHeader {
  readonly tableOffset: number;
  readonly maxTableEntries: number;
  readonly blockSize: number;
  readonly parentUniqueId: string;
  readonly parentName: string;
  readonly locators: readonly ParentLocatorEntry[];
}

function be(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** One's complement of the byte sum, the checksum field counted as zero. */
export function vhdChecksum(bytes: Uint8Array, checksumOffset: number): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i++)
    if (i < checksumOffset || i >= checksumOffset + 4) sum += bytes[i] ?? 0;
  return ~sum >>> 0;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

export function isVhdFooter(bytes: Uint8Array): boolean {
  return bytes.length >= 512 && ascii(bytes, 0, 8) === "conectix";
}

export function decodeFooter(bytes: Uint8Array, path: string): VhdFooter {
  const fail = (message: string): never => {
    throw diskError("VHD_INVALID", `Invalid VHD footer in "${path}": ${message}`, { path });
  };
  if (!isVhdFooter(bytes)) fail("no conectix cookie");
  const v = be(bytes);
  if (v.getUint32(64, false) !== vhdChecksum(bytes.subarray(0, 512), 64)) fail("checksum mismatch");
  const version = v.getUint32(12, false);
  if (version >>> 16 !== 1) fail(`file format version 0x${version.toString(16)}`);
  const size = v.getBigUint64(48, false);
  if (size > BigInt(Number.MAX_SAFE_INTEGER) || size === 0n) fail(`current size ${size}`);
  const diskType = v.getUint32(60, false);
  if (diskType !== VHD_FIXED && diskType !== VHD_DYNAMIC && diskType !== VHD_DIFFERENCING)
    fail(`disk type ${diskType}`);
  return {
    dataOffset: v.getBigUint64(16, false),
    creatorApp: ascii(bytes, 28, 4),
    currentSize: Number(size),
    cylinders: v.getUint16(56, false),
    heads: bytes[58] ?? 0,
    sectorsPerTrack: bytes[59] ?? 0,
    diskType,
    uniqueId: hex(bytes.subarray(68, 84)),
  };
}

/**
 * The disk size the way Microsoft's tools and qemu agree on: Hyper-V, Disk2VHD and qemu's
 * `force_size` images use the footer's current size; Virtual PC images use the CHS geometry.
 */
export function vhdCapacity(footer: VhdFooter): number {
  const chs = footer.cylinders * footer.heads * footer.sectorsPerTrack * 512;
  const currentSizeCreators = ["win ", "qem2", "d2v ", "CTXS", "tap\0"];
  const maxChs = footer.cylinders === 65535 && footer.heads === 16 && footer.sectorsPerTrack === 255;
  return currentSizeCreators.includes(footer.creatorApp) || maxChs || chs === 0 ? footer.currentSize : chs;
}

export function decodeDynamicHeader(bytes: Uint8Array, path: string): VhdDynamicHeader {
  const fail = (message: string): never => {
    throw diskError("VHD_INVALID", `Invalid VHD dynamic header in "${path}": ${message}`, { path });
  };
  if (bytes.length < 1024 || ascii(bytes, 0, 8) !== "cxsparse") fail("no cxsparse cookie");
  const v = be(bytes);
  if (v.getUint32(36, false) !== vhdChecksum(bytes.subarray(0, 1024), 36)) fail("checksum mismatch");
  const table = v.getBigUint64(16, false);
  if (table > BigInt(Number.MAX_SAFE_INTEGER)) fail(`table offset ${table}`);
  const blockSize = v.getUint32(32, false);
  if (blockSize < 512 * 8 || blockSize > 256 * 1024 * 1024 || (blockSize & (blockSize - 1)) !== 0)
    fail(`block size ${blockSize}`);
  const locators: ParentLocatorEntry[] = [];
  for (let i = 0; i < 8; i++) {
    const at = 576 + i * 24;
    const code = ascii(bytes, at, 4);
    if (v.getUint32(at, false) === 0) continue;
    const offset = v.getBigUint64(at + 16, false);
    if (offset > BigInt(Number.MAX_SAFE_INTEGER)) fail(`parent locator ${i} offset ${offset}`);
    locators.push({ platformCode: code, dataLength: v.getUint32(at + 8, false), dataOffset: Number(offset) });
  }
  const name = Buffer.from(bytes.subarray(64, 576)).swap16().toString("utf16le");
  return {
    tableOffset: Number(table),
    maxTableEntries: v.getUint32(28, false),
    blockSize,
    parentUniqueId: hex(bytes.subarray(40, 56)),
    parentName: name.replace(/\0.*$/s, ""),
    locators,
  };
}
