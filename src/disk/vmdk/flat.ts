/**
 * monolithicFlat / vmfs disks: a text descriptor beside a raw `-flat.vmdk` extent. The vSphere
 * simulator keeps its datastore disks this way; writes go straight into the flat file.
 */
import { writeFile } from "node:fs/promises";
import { posix } from "node:path";
import { diskError } from "../errors.js";
import { RandomAccessFile } from "../file-source.js";
import { formatDescriptor } from "./descriptor.js";

export interface CreateFlatVmdkOptions {
  /** Disk size in bytes, a multiple of 512. */
  readonly capacity: number;
  /** `vmfs` (ESXi, extent type VMFS) or `monolithicFlat` (hosted, extent type FLAT). Default `vmfs`. */
  readonly createType?: "vmfs" | "monolithicFlat";
  /** ddb entries to add or override (`ddb.adapterType`, `ddb.thinProvisioned`, `ddb.uuid`...). */
  readonly ddb?: ReadonlyMap<string, string>;
  /** The descriptor's CID (8 hex digits); random by default. */
  readonly cid?: string;
}

export interface FlatVmdkFiles {
  readonly descriptorPath: string;
  /** The raw extent: `<name>-flat.vmdk`, `capacity` bytes long (sparse on the file system). */
  readonly extentPath: string;
}

/** Creates `path` (the descriptor, e.g. `disk.vmdk`) and its `disk-flat.vmdk` extent; neither may exist. */
export async function createFlatVmdk(path: string, options: CreateFlatVmdkOptions): Promise<FlatVmdkFiles> {
  const { capacity } = options;
  if (!Number.isSafeInteger(capacity) || capacity <= 0 || capacity % 512 !== 0) {
    throw diskError(
      "DISK_WRITE_INVALID",
      `Cannot create VMDK "${path}": capacity ${capacity} is not a positive multiple of 512`,
      { path, capacity },
    );
  }
  if (!path.endsWith(".vmdk"))
    throw diskError("DISK_WRITE_INVALID", `VMDK descriptor path "${path}" must end in .vmdk`, { path });
  const extentName = `${posix.basename(path, ".vmdk")}-flat.vmdk`;
  const extentPath = posix.join(posix.dirname(path), extentName);
  const createType = options.createType ?? "vmfs";
  const descriptor = formatDescriptor({
    createType,
    extents: [
      {
        access: "RW",
        sectors: capacity / 512,
        type: createType === "vmfs" ? "VMFS" : "FLAT",
        file: extentName,
        offset: 0,
      },
    ],
    ...(options.cid === undefined ? {} : { cid: options.cid }),
    ...(options.ddb === undefined ? {} : { ddb: options.ddb }),
  });
  const extent = await RandomAccessFile.open(extentPath, "create");
  try {
    await extent.truncate(capacity);
  } finally {
    await extent.close();
  }
  await writeFile(path, descriptor, { flag: "wx" });
  return { descriptorPath: path, extentPath };
}
