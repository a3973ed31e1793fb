/**
 * Export of a disk (any DiskSource: a restored recovery point, an opened image) to a file in raw,
 * VMDK (streamOptimized or monolithicSparse) or dynamic VHDX format. Only the allocated extents are
 * read, and 64 KiB units that are all zeros stay unallocated (holes in raw files).
 */
import { unlink } from "node:fs/promises";
import type { DiskSource, Extent } from "../domain/ports.js";
import { isAllZero } from "./bytes.js";
import { diskError, throwIfAborted } from "./errors.js";
import { clipExtents, unionExtents } from "./extents.js";
import { RandomAccessFile } from "./file-source.js";
import { createVhdx } from "./vhdx/api.js";
import { SparseVmdkWriter } from "./vmdk/sparse-writer.js";
import { StreamOptimizedWriter } from "./vmdk/stream-writer.js";

export type ExportFormat = "raw" | "vmdk" | "vmdk-sparse" | "vhdx";

export interface ExportOptions {
  /** `vmdk` is streamOptimized (deflated grains, for OVAs and vSphere imports). */
  readonly format: ExportFormat;
  /** Areas to copy; default `disk.allocated()`, or the whole disk when the source has no map. */
  readonly extents?: readonly Extent[];
  /** VHDX block size (default 32 MiB). */
  readonly vhdxBlockSize?: number;
  readonly signal?: AbortSignal;
  /** Called after each piece with the bytes of the disk covered so far. */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface ExportResult {
  /** Bytes read from the source. */
  readonly bytesRead: number;
  /** Bytes of non-zero data written. */
  readonly dataBytes: number;
}

/** Zero detection unit: the VMDK grain size, a divisor of every VHDX block size. */
const UNIT = 64 * 1024;
const READ_SIZE = 1024 * 1024;

interface Sink {
  put(data: Uint8Array, offset: number): Promise<void>;
  finish(): Promise<void>;
  abort(): Promise<void>;
}

async function openSink(
  format: ExportFormat,
  path: string,
  capacity: number,
  options: ExportOptions,
): Promise<Sink> {
  switch (format) {
    case "raw": {
      const file = await RandomAccessFile.open(path, "create");
      await file.truncate(capacity);
      return {
        put: (data, offset) => file.write(data, offset),
        finish: async () => {
          await file.sync();
          await file.close();
        },
        abort: () => file.close(),
      };
    }
    case "vmdk": {
      const writer = await StreamOptimizedWriter.create(path, capacity);
      return {
        put: (data, offset) => writer.writeGrain(offset / UNIT, data),
        finish: () => writer.finish(),
        abort: () => writer.abort(),
      };
    }
    case "vmdk-sparse": {
      const writer = await SparseVmdkWriter.create(path, capacity);
      return {
        put: (data, offset) => writer.write(data, offset),
        finish: () => writer.close(),
        abort: () => writer.close(),
      };
    }
    case "vhdx": {
      const writer = await createVhdx(path, {
        virtualSize: capacity,
        ...(options.vhdxBlockSize ? { blockSize: options.vhdxBlockSize } : {}),
      });
      return {
        put: (data, offset) => writer.write(data, offset),
        finish: () => writer.close(),
        abort: () => writer.close(),
      };
    }
  }
}

/** Writes `disk` to a new file at `path` (which must not exist). */
export async function exportDisk(
  disk: DiskSource,
  path: string,
  options: ExportOptions,
): Promise<ExportResult> {
  const { capacity } = disk;
  if (capacity % 512 !== 0 && options.format !== "raw") {
    throw diskError(
      "DISK_WRITE_INVALID",
      `Cannot export ${capacity} bytes as ${options.format}: not a multiple of 512`,
      { capacity },
    );
  }
  const wanted =
    options.extents ??
    (disk.allocated ? await disk.allocated(options.signal) : [{ start: 0, length: capacity }]);
  // Widen to whole units so every unit is read once and written whole (VMDK grains are 64 KiB).
  const units = unionExtents(
    clipExtents(wanted, capacity).map((e) => {
      const start = Math.floor(e.start / UNIT) * UNIT;
      return { start, length: Math.ceil((e.start + e.length) / UNIT) * UNIT - start };
    }),
    [],
  );
  const sink = await openSink(options.format, path, capacity, options);
  let bytesRead = 0;
  let dataBytes = 0;
  // The next piece is read while the current one is written (two buffers in flight). Pieces are
  // generated lazily: a 64 TiB disk would otherwise list 64 million of them.
  function* piecesOf(): Generator<{ at: number; length: number }> {
    for (const e of clipExtents(units, capacity)) {
      for (let at = e.start; at < e.start + e.length; at += READ_SIZE) {
        yield { at, length: Math.min(READ_SIZE, e.start + e.length - at) };
      }
    }
  }
  const buffers = [new Uint8Array(READ_SIZE), new Uint8Array(READ_SIZE)];
  let turn = 0;
  const readPiece = async (p: { at: number; length: number }): Promise<{ at: number; bytes: Uint8Array }> => {
    throwIfAborted(options.signal, `Exporting to "${path}"`);
    const piece = (buffers[turn++ % 2] as Uint8Array).subarray(0, p.length);
    return { at: p.at, bytes: piece.subarray(0, await disk.read(piece, p.at, options.signal)) };
  };
  const pieces = piecesOf();
  let pending: Promise<{ at: number; bytes: Uint8Array }> | undefined;
  try {
    let next = pieces.next();
    pending = next.done === true ? undefined : readPiece(next.value);
    while (pending !== undefined) {
      const { at, bytes } = await pending;
      next = pieces.next();
      pending = next.done === true ? undefined : readPiece(next.value);
      bytesRead += bytes.length;
      for (let u = 0; u < bytes.length; u += UNIT) {
        const unit = bytes.subarray(u, Math.min(u + UNIT, bytes.length));
        if (isAllZero(unit)) continue;
        await sink.put(unit, at + u);
        dataBytes += unit.length;
      }
      options.onProgress?.(at + bytes.length, capacity);
    }
    await sink.finish();
  } catch (err) {
    await pending?.catch(() => undefined);
    await sink.abort().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw err;
  }
  return { bytesRead, dataBytes };
}
