/**
 * VHDX block allocation table geometry and entries. Payload entries and sector-bitmap entries are
 * interleaved: after every `chunkRatio` payload entries comes the bitmap entry of that chunk.
 */
import { u64big } from "../bytes.js";
import { diskError } from "../errors.js";
import { MiB } from "./format.js";

export interface BatGeometry {
  readonly virtualDiskSize: number;
  readonly blockSize: number;
  readonly logicalSectorSize: number;
  readonly sectorsPerBlock: number;
  readonly chunkRatio: number;
  readonly dataBlocks: number;
  readonly bitmapBlocks: number;
  /** Number of BAT entries the file must hold. */
  readonly totalEntries: number;
}

export function batGeometry(
  virtualDiskSize: number,
  blockSize: number,
  logicalSectorSize: number,
  hasParent: boolean,
): BatGeometry {
  const chunkRatio = (2 ** 23 * logicalSectorSize) / blockSize;
  const dataBlocks = Math.ceil(virtualDiskSize / blockSize);
  const bitmapBlocks = Math.ceil(dataBlocks / chunkRatio);
  const totalEntries = hasParent
    ? bitmapBlocks * (chunkRatio + 1)
    : dataBlocks + Math.floor((dataBlocks - 1) / chunkRatio);
  return {
    virtualDiskSize,
    blockSize,
    logicalSectorSize,
    sectorsPerBlock: blockSize / logicalSectorSize,
    chunkRatio,
    dataBlocks,
    bitmapBlocks,
    totalEntries,
  };
}

export function payloadIndex(geometry: BatGeometry, block: number): number {
  return block + Math.floor(block / geometry.chunkRatio);
}

export function bitmapIndex(geometry: BatGeometry, chunk: number): number {
  return chunk * (geometry.chunkRatio + 1) + geometry.chunkRatio;
}

export interface BatEntry {
  readonly state: number;
  /** Byte offset in the file (a multiple of 1 MiB); 0 when the entry carries none. */
  readonly fileOffset: number;
}

export function decodeBatEntry(bat: Uint8Array, index: number): BatEntry {
  const raw = u64big(bat, index * 8);
  return { state: Number(raw & 7n), fileOffset: Number(raw >> 20n) * MiB };
}

export function encodeBatEntry(entry: BatEntry): bigint {
  return (BigInt(entry.fileOffset / MiB) << 20n) | BigInt(entry.state);
}

/** Checks the BAT region can hold the entries and that every offset lies inside the file. */
export function checkBat(bat: Uint8Array, geometry: BatGeometry, fileSize: number, path: string): void {
  if (bat.length < geometry.totalEntries * 8) {
    throw diskError(
      "VHDX_BAT_INVALID",
      `VHDX BAT of "${path}" holds ${Math.floor(bat.length / 8)} entries, ${geometry.totalEntries} needed`,
      { path, entries: Math.floor(bat.length / 8), needed: geometry.totalEntries },
    );
  }
  for (let i = 0; i < geometry.totalEntries; i++) {
    const raw = u64big(bat, i * 8);
    const offset = raw >> 20n;
    if (offset === 0n) continue;
    const chunk = Math.floor(i / (geometry.chunkRatio + 1));
    const inChunk = i % (geometry.chunkRatio + 1);
    const block = chunk * geometry.chunkRatio + inChunk;
    const length =
      inChunk === geometry.chunkRatio
        ? MiB
        : Math.max(0, Math.min(geometry.blockSize, geometry.virtualDiskSize - block * geometry.blockSize));
    if (offset * BigInt(MiB) + BigInt(length) > BigInt(fileSize) && Number(raw & 7n) >= 6) {
      throw diskError(
        "VHDX_BAT_INVALID",
        `VHDX BAT entry ${i} of "${path}" points at ${offset * BigInt(MiB)}, past the file end ${fileSize}`,
        { path, index: i, fileOffset: (offset * BigInt(MiB)).toString(), fileSize },
      );
    }
  }
}
