/**
 * Public surface of the disk-format layer: open images as DiskSources, write VHDX/VMDK files,
 * export disks. Documented in docs/disk-formats.md.
 */
export type { DiskErrorCode, DiskError } from "./errors.js";
export { openFileSource, RandomAccessFile } from "./file-source.js";
export type { OpenImageOptions, OpenFile } from "./image-options.js";
export { openDiskImage, openDiskImageSource, detectImageFormat, type ImageFormat } from "./open-image.js";
export { openVhdSource } from "./vhd/open.js";
export { VhdDisk } from "./vhd/reader.js";
export { RawDisk } from "./raw.js";
export { exportDisk, type ExportFormat, type ExportOptions, type ExportResult } from "./export.js";
export { openVhdx, openVhdxSource } from "./vhdx/open.js";
export { VhdxDisk } from "./vhdx/reader.js";
export {
  createVhdx,
  createDifferencingVhdx,
  openVhdxForWrite,
  mergeDifferencingVhdx,
  describeVhdx,
  type VhdxInfo,
  type MergeResult,
  VhdxWriter,
  type CreateVhdxOptions,
  type CreateDifferencingVhdxOptions,
} from "./vhdx/api.js";
export { openVmdk, openVmdkSource } from "./vmdk/open.js";
export { VmdkDisk } from "./vmdk/disk.js";
export {
  parseDescriptor,
  formatDescriptor,
  type VmdkDescriptor,
  type ExtentLine,
} from "./vmdk/descriptor.js";
export { createFlatVmdk, type CreateFlatVmdkOptions, type FlatVmdkFiles } from "./vmdk/flat.js";
export { StreamOptimizedWriter } from "./vmdk/stream-writer.js";
export { SparseVmdkWriter } from "./vmdk/sparse-writer.js";
