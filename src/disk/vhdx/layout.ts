/** Reads and validates the structures of a VHDX file (headers, regions, metadata, BAT) from a source. */
import type { ByteSource } from "../../domain/ports.js";
import { diskError, throwIfAborted } from "../errors.js";
import { batGeometry, checkBat, type BatGeometry } from "./bat.js";
import { HEADER_OFFSETS, HEADER_SIZE, MiB, REGION_TABLE_OFFSETS, REGION_TABLE_SIZE } from "./format.js";
import { checkLog, isVhdxFileIdentifier, selectHeader, type VhdxHeader } from "./header.js";
import { decodeMetadata, type VhdxMetadata } from "./metadata.js";
import { selectRegionTable, type VhdxRegions } from "./region-table.js";

const MAX_METADATA_REGION = 64 * MiB;

export interface VhdxLayout {
  readonly path: string;
  readonly fileSize: number;
  readonly header: VhdxHeader;
  readonly regions: VhdxRegions;
  readonly metadata: VhdxMetadata;
  readonly geometry: BatGeometry;
  /** The BAT region's bytes (entries as u64 LE). */
  readonly bat: Uint8Array;
}

export async function readVhdxLayout(
  source: ByteSource,
  path: string,
  signal?: AbortSignal,
): Promise<VhdxLayout> {
  throwIfAborted(signal, `Opening VHDX "${path}"`);
  if (source.size < 4 * MiB) {
    throw diskError("VHDX_HEADER_INVALID", `"${path}" is too small for a VHDX (${source.size} bytes)`, {
      path,
      size: source.size,
    });
  }
  const head = await source.read(0, 320 * 1024, signal);
  if (!isVhdxFileIdentifier(head)) {
    throw diskError("VHDX_HEADER_INVALID", `"${path}" has no "vhdxfile" signature`, { path });
  }
  const header = selectHeader(
    head.subarray(HEADER_OFFSETS[0], HEADER_OFFSETS[0] + HEADER_SIZE),
    head.subarray(HEADER_OFFSETS[1], HEADER_OFFSETS[1] + HEADER_SIZE),
    path,
  );
  checkLog(header, source.size, path);
  const regions = selectRegionTable(
    head.subarray(REGION_TABLE_OFFSETS[0], REGION_TABLE_OFFSETS[0] + REGION_TABLE_SIZE),
    head.subarray(REGION_TABLE_OFFSETS[1], REGION_TABLE_OFFSETS[1] + REGION_TABLE_SIZE),
    source.size,
    path,
  );
  // Hyper-V and qemu write a 1 MiB metadata region; a hostile length must not size our buffers.
  if (regions.metadata.length > MAX_METADATA_REGION) {
    throw diskError(
      "VHDX_REGION_INVALID",
      `VHDX "${path}" has a ${regions.metadata.length}-byte metadata region (at most ${MAX_METADATA_REGION})`,
      {
        path,
        length: regions.metadata.length,
      },
    );
  }
  const metaBytes = await source.read(regions.metadata.fileOffset, regions.metadata.length, signal);
  const metadata = decodeMetadata(metaBytes, path);
  const geometry = batGeometry(
    metadata.virtualDiskSize,
    metadata.blockSize,
    metadata.logicalSectorSize,
    metadata.hasParent,
  );
  // Only the entries the geometry needs are read (checkBat refuses a region too small for them).
  const batBytes = Math.min(regions.bat.length, geometry.totalEntries * 8);
  const bat = await source.read(regions.bat.fileOffset, batBytes, signal);
  if (bat.length < batBytes) {
    throw diskError("VHDX_BAT_INVALID", `VHDX BAT of "${path}" is truncated`, { path });
  }
  checkBat(bat, geometry, source.size, path);
  return { path, fileSize: source.size, header, regions, metadata, geometry, bat };
}
