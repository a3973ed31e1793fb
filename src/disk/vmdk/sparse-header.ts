/**
 * The hosted sparse extent header ("KDMV", 512 bytes, little-endian) of monolithicSparse and
 * streamOptimized VMDKs, and the stream markers. Pure decode/encode.
 */
import { putU16, putU32, putU64, u16, u32, u64, u64big } from "../bytes.js";
import { diskError } from "../errors.js";

export const SPARSE_MAGIC = 0x564d444b; // "KDMV" little-endian
export const SECTOR = 512;
export const GD_AT_END = 0xffffffffffffffffn;
export const FLAG_VALID_NEWLINE_TEST = 1 << 0;
export const FLAG_REDUNDANT_GD = 1 << 1;
export const FLAG_ZEROED_GRAIN_GTE = 1 << 2;
export const FLAG_COMPRESSED = 1 << 16;
export const FLAG_MARKERS = 1 << 17;
export const COMPRESSION_DEFLATE = 1;

export const MARKER_EOS = 0;
export const MARKER_GT = 1;
export const MARKER_GD = 2;
export const MARKER_FOOTER = 3;

export interface SparseHeader {
  readonly version: number;
  readonly flags: number;
  /** Capacity in sectors. */
  readonly capacity: number;
  /** Grain size in sectors. */
  readonly grainSize: number;
  readonly descriptorOffset: number;
  readonly descriptorSize: number;
  readonly numGTEsPerGT: number;
  readonly rgdOffset: number;
  /** Sector of the grain directory; `undefined` when it is at the end (streamOptimized). */
  readonly gdOffset: number | undefined;
  readonly overHead: number;
  readonly uncleanShutdown: boolean;
  readonly compressAlgorithm: number;
}

export function isSparseMagic(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && u32(bytes, 0) === SPARSE_MAGIC;
}

export function decodeSparseHeader(bytes: Uint8Array, path: string): SparseHeader {
  const fail = (message: string, details: Record<string, unknown> = {}): never => {
    throw diskError("VMDK_SPARSE_INVALID", `Invalid sparse VMDK header in "${path}": ${message}`, {
      path,
      ...details,
    });
  };
  if (bytes.length < SECTOR) fail(`only ${bytes.length} bytes`);
  if (!isSparseMagic(bytes)) fail("no KDMV magic");
  const field = (offset: number, name: string): number => u64(bytes, offset, "VMDK_SPARSE_INVALID", name);
  const version = u32(bytes, 4);
  if (version < 1 || version > 3) fail(`version ${version} is not 1, 2 or 3`, { version });
  const flags = u32(bytes, 8);
  if (
    (flags & FLAG_VALID_NEWLINE_TEST) !== 0 &&
    (bytes[73] !== 0x0a || bytes[74] !== 0x20 || bytes[75] !== 0x0d || bytes[76] !== 0x0a)
  ) {
    fail("newline detection bytes damaged (the file went through a text-mode transfer)");
  }
  const grainSize = field(20, "grainSize");
  if (grainSize < 8 || grainSize > 2048 || (grainSize & (grainSize - 1)) !== 0)
    fail(`grain size ${grainSize} sectors is not a power of two from 8 to 2048`, { grainSize });
  const numGTEsPerGT = u32(bytes, 44);
  if (numGTEsPerGT < 1 || numGTEsPerGT > 65536)
    fail(`${numGTEsPerGT} entries per grain table`, { numGTEsPerGT });
  const capacity = field(12, "capacity");
  if (capacity * SECTOR > Number.MAX_SAFE_INTEGER) fail(`capacity ${capacity} sectors too large`);
  const gd = u64big(bytes, 56);
  const compressAlgorithm = u16(bytes, 77);
  if ((flags & FLAG_COMPRESSED) !== 0 && compressAlgorithm !== COMPRESSION_DEFLATE)
    fail(`compression algorithm ${compressAlgorithm} is not deflate`);
  return {
    version,
    flags,
    capacity,
    grainSize,
    descriptorOffset: field(28, "descriptorOffset"),
    descriptorSize: field(36, "descriptorSize"),
    numGTEsPerGT,
    rgdOffset: field(48, "rgdOffset"),
    gdOffset: gd === GD_AT_END ? undefined : field(56, "gdOffset"),
    overHead: field(64, "overHead"),
    uncleanShutdown: bytes[72] !== 0,
    compressAlgorithm,
  };
}

export function encodeSparseHeader(h: SparseHeader): Uint8Array {
  const out = new Uint8Array(SECTOR);
  putU32(out, 0, SPARSE_MAGIC);
  putU32(out, 4, h.version);
  putU32(out, 8, h.flags);
  putU64(out, 12, h.capacity);
  putU64(out, 20, h.grainSize);
  putU64(out, 28, h.descriptorOffset);
  putU64(out, 36, h.descriptorSize);
  putU32(out, 44, h.numGTEsPerGT);
  putU64(out, 48, h.rgdOffset);
  putU64(out, 56, h.gdOffset ?? GD_AT_END);
  putU64(out, 64, h.overHead);
  out[72] = h.uncleanShutdown ? 1 : 0;
  out.set([0x0a, 0x20, 0x0d, 0x0a], 73);
  putU16(out, 77, h.compressAlgorithm);
  return out;
}

/** A metadata marker sector: `{numSectors u64, size u32 = 0, type u32}`. */
export function encodeMarker(type: number, numSectors: number): Uint8Array {
  const out = new Uint8Array(SECTOR);
  putU64(out, 0, numSectors);
  putU32(out, 12, type);
  return out;
}

export function gdEntries(h: SparseHeader): number {
  return Math.ceil(h.capacity / h.grainSize / h.numGTEsPerGT);
}
