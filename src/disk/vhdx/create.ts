/**
 * Builds the fixed structures of a new VHDX file: file identifier, headers, region tables, metadata
 * region and an empty BAT. Pure: returns the pieces and where they go.
 */
import { randomUUID } from "node:crypto";
import { alignUp, putU64, ZERO_GUID } from "../bytes.js";
import { diskError } from "../errors.js";
import { batGeometry, encodeBatEntry, payloadIndex, type BatGeometry } from "./bat.js";
import {
  HEADER_OFFSETS,
  MiB,
  PAYLOAD_FULLY_PRESENT,
  REGION_BAT,
  REGION_METADATA,
  REGION_TABLE_OFFSETS,
} from "./format.js";
import { encodeFileIdentifier, encodeHeader, type VhdxHeader } from "./header.js";
import { encodeMetadataRegion, systemItems, type VhdxMetadata } from "./metadata.js";
import { encodeParentLocator } from "./parent-locator.js";
import { encodeRegionTable } from "./region-table.js";

export const LOG_OFFSET = MiB;
export const LOG_LENGTH = MiB;
export const METADATA_OFFSET = 2 * MiB;
export const METADATA_LENGTH = MiB;
export const BAT_OFFSET = 3 * MiB;

export interface VhdxCreateParams {
  readonly virtualSize: number;
  readonly blockSize: number;
  readonly logicalSectorSize: number;
  readonly physicalSectorSize: number;
  /** Fixed disks have every payload block allocated at creation (LeaveBlocksAllocated). */
  readonly fixed: boolean;
  /** Key/value pairs of the parent locator, for differencing disks. */
  readonly parentLocator?: ReadonlyMap<string, string>;
  readonly page83?: string;
}

export interface VhdxImage {
  /** Writes to make, in order, into an empty file. */
  readonly pieces: readonly { readonly offset: number; readonly bytes: Uint8Array }[];
  /** The file's length once written (payload blocks of fixed disks included). */
  readonly fileSize: number;
  readonly geometry: BatGeometry;
  readonly header: VhdxHeader;
}

export function newGuid(): string {
  return randomUUID().toUpperCase();
}

export function checkCreateParams(p: VhdxCreateParams): void {
  const fail = (message: string): never => {
    throw diskError("DISK_WRITE_INVALID", `Cannot create VHDX: ${message}`, {
      ...p,
      parentLocator: undefined,
    });
  };
  if (p.logicalSectorSize !== 512 && p.logicalSectorSize !== 4096)
    fail(`logical sector size ${p.logicalSectorSize} is not 512 or 4096`);
  if (p.physicalSectorSize !== 512 && p.physicalSectorSize !== 4096)
    fail(`physical sector size ${p.physicalSectorSize} is not 512 or 4096`);
  if (p.blockSize < MiB || p.blockSize > 256 * MiB || (p.blockSize & (p.blockSize - 1)) !== 0) {
    fail(`block size ${p.blockSize} is not a power of two between 1 MiB and 256 MiB`);
  }
  if (
    !Number.isSafeInteger(p.virtualSize) ||
    p.virtualSize <= 0 ||
    p.virtualSize % p.logicalSectorSize !== 0
  ) {
    fail(
      `virtual size ${p.virtualSize} is not a positive multiple of the ${p.logicalSectorSize}-byte sector`,
    );
  }
  if (p.virtualSize > 64 * 1024 * 1024 * MiB) fail(`virtual size ${p.virtualSize} exceeds 64 TiB`);
}

export function buildVhdx(p: VhdxCreateParams): VhdxImage {
  checkCreateParams(p);
  const hasParent = p.parentLocator !== undefined;
  const geometry = batGeometry(p.virtualSize, p.blockSize, p.logicalSectorSize, hasParent);
  const batLength = alignUp(geometry.totalEntries * 8, MiB);
  const metadata: VhdxMetadata = {
    blockSize: p.blockSize,
    leaveBlocksAllocated: p.fixed,
    hasParent,
    virtualDiskSize: p.virtualSize,
    logicalSectorSize: p.logicalSectorSize,
    physicalSectorSize: p.physicalSectorSize,
    page83: p.page83 ?? newGuid(),
  };
  const locator = p.parentLocator === undefined ? undefined : encodeParentLocator(p.parentLocator);
  const metaRegion = encodeMetadataRegion(systemItems(metadata, locator), METADATA_LENGTH);
  const regions = encodeRegionTable([
    { guid: REGION_BAT, fileOffset: BAT_OFFSET, length: batLength, required: true },
    { guid: REGION_METADATA, fileOffset: METADATA_OFFSET, length: METADATA_LENGTH, required: true },
  ]);
  const header: VhdxHeader = {
    sequenceNumber: 1n,
    fileWriteGuid: newGuid(),
    dataWriteGuid: newGuid(),
    logGuid: ZERO_GUID,
    logVersion: 0,
    version: 1,
    logLength: LOG_LENGTH,
    logOffset: LOG_OFFSET,
  };
  const bat = new Uint8Array(batLength);
  let fileSize = BAT_OFFSET + batLength;
  if (p.fixed) {
    for (let block = 0; block < geometry.dataBlocks; block++) {
      putU64(
        bat,
        payloadIndex(geometry, block) * 8,
        encodeBatEntry({ state: PAYLOAD_FULLY_PRESENT, fileOffset: fileSize }),
      );
      fileSize += p.blockSize;
    }
  }
  return {
    pieces: [
      { offset: 0, bytes: encodeFileIdentifier("snapvisor") },
      { offset: HEADER_OFFSETS[0], bytes: encodeHeader(header) },
      { offset: HEADER_OFFSETS[1], bytes: encodeHeader({ ...header, sequenceNumber: 2n }) },
      { offset: REGION_TABLE_OFFSETS[0], bytes: regions },
      { offset: REGION_TABLE_OFFSETS[1], bytes: regions },
      { offset: METADATA_OFFSET, bytes: metaRegion },
      { offset: BAT_OFFSET, bytes: bat },
    ],
    fileSize,
    geometry,
    header: { ...header, sequenceNumber: 2n },
  };
}
