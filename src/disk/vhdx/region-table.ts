/** VHDX region table: where the BAT and the metadata region live. Pure decode/encode. */
import { ascii, guidAt, putAscii, putGuid, putU32, putU64, u32, u64 } from "../bytes.js";
import { crc32c, crc32cWithZeroedField } from "../crc32c.js";
import { diskError } from "../errors.js";
import { MiB, REGION_BAT, REGION_METADATA, REGION_SIGNATURE, REGION_TABLE_SIZE } from "./format.js";

export interface VhdxRegion {
  readonly guid: string;
  readonly fileOffset: number;
  readonly length: number;
  readonly required: boolean;
}

export interface VhdxRegions {
  readonly bat: VhdxRegion;
  readonly metadata: VhdxRegion;
  readonly all: readonly VhdxRegion[];
}

const KNOWN = new Set([REGION_BAT, REGION_METADATA]);
const MAX_ENTRIES = 2047;

/** Decodes one 64 KiB region table; returns the reason it is invalid instead of throwing. */
export function decodeRegionTable(
  bytes: Uint8Array,
  fileSize: number,
): VhdxRegions | { readonly invalid: string } {
  if (bytes.length < REGION_TABLE_SIZE) return { invalid: `truncated (${bytes.length} bytes)` };
  const table = bytes.subarray(0, REGION_TABLE_SIZE);
  const signature = ascii(table, 0, 4);
  if (signature !== REGION_SIGNATURE) return { invalid: `signature is ${JSON.stringify(signature)}` };
  const stored = u32(table, 4);
  const computed = crc32cWithZeroedField(table, 4);
  if (stored !== computed) return { invalid: `CRC-32C mismatch (stored ${stored}, computed ${computed})` };
  const count = u32(table, 8);
  if (count > MAX_ENTRIES) return { invalid: `entry count ${count} exceeds ${MAX_ENTRIES}` };
  const all: VhdxRegion[] = [];
  for (let i = 0; i < count; i++) {
    const at = 16 + i * 32;
    const region = {
      guid: guidAt(table, at),
      fileOffset: u64(table, at + 16, "VHDX_REGION_INVALID", "region file offset"),
      length: u32(table, at + 24),
      required: (u32(table, at + 28) & 1) === 1,
    };
    if (region.required && !KNOWN.has(region.guid))
      return { invalid: `unknown required region ${region.guid}` };
    if (region.fileOffset % MiB !== 0 || region.fileOffset < MiB || region.length % MiB !== 0) {
      return {
        invalid: `region ${region.guid} not 1 MiB aligned (offset ${region.fileOffset}, length ${region.length})`,
      };
    }
    if (region.fileOffset + region.length > fileSize) {
      return {
        invalid: `region ${region.guid} ends at ${region.fileOffset + region.length}, past the file end ${fileSize}`,
      };
    }
    if (all.some((r) => r.guid === region.guid)) return { invalid: `region ${region.guid} listed twice` };
    all.push(region);
  }
  const bat = all.find((r) => r.guid === REGION_BAT);
  const metadata = all.find((r) => r.guid === REGION_METADATA);
  if (bat === undefined || metadata === undefined) return { invalid: "BAT or metadata region missing" };
  const overlap =
    bat.fileOffset < metadata.fileOffset + metadata.length &&
    metadata.fileOffset < bat.fileOffset + bat.length;
  if (overlap) return { invalid: "BAT and metadata regions overlap" };
  return { bat, metadata, all };
}

/** The first valid of the two region tables (they are written identically). */
export function selectRegionTable(
  first: Uint8Array,
  second: Uint8Array,
  fileSize: number,
  path: string,
): VhdxRegions {
  const a = decodeRegionTable(first, fileSize);
  if (!("invalid" in a)) return a;
  const b = decodeRegionTable(second, fileSize);
  if (!("invalid" in b)) return b;
  throw diskError(
    "VHDX_REGION_INVALID",
    `No valid VHDX region table in "${path}": table 1 ${a.invalid}; table 2 ${b.invalid}`,
    {
      path,
      table1: a.invalid,
      table2: b.invalid,
    },
  );
}

export function encodeRegionTable(regions: readonly VhdxRegion[]): Uint8Array {
  const out = new Uint8Array(REGION_TABLE_SIZE);
  putAscii(out, 0, REGION_SIGNATURE);
  putU32(out, 8, regions.length);
  regions.forEach((r, i) => {
    const at = 16 + i * 32;
    putGuid(out, at, r.guid);
    putU64(out, at + 16, r.fileOffset);
    putU32(out, at + 24, r.length);
    putU32(out, at + 28, r.required ? 1 : 0);
  });
  putU32(out, 4, crc32c(out));
  return out;
}
