/**
 * Minimal VMDK text-descriptor parser: enough to find the flat extent(s) of an ESXi disk
 * (`createType="vmfs"`, `monolithicFlat`, `twoGbMaxExtentFlat`) and to recognise what we do not read
 * here (sparse/delta/SEsparse/vSAN/RDM). To be replaced by `src/disk/vmdk` when it lands on main.
 * Pure: text in, descriptor out.
 */
import { vsphereError } from "./errors.js";

export interface DescriptorExtent {
  readonly access: string;
  /** Size in 512-byte sectors. */
  readonly sectors: number;
  readonly type: string;
  readonly file: string;
  /** Offset in sectors inside the file (FLAT extents). */
  readonly offset: number;
}

export interface VmdkDescriptor {
  readonly createType: string;
  readonly parentCID: string | undefined;
  readonly parentFileNameHint: string | undefined;
  readonly extents: readonly DescriptorExtent[];
}

const EXTENT = /^(RW|RDONLY|NOACCESS)\s+(\d+)\s+(\w+)(?:\s+"((?:[^"\\]|\\.)*)"(?:\s+(\d+))?)?\s*$/;

export function parseDescriptor(text: string, where: string): VmdkDescriptor {
  if (text.startsWith("KDMV") || text.startsWith("COWD")) {
    throw vsphereError("VSPHERE_DISK_UNSUPPORTED", `${where} is a binary sparse VMDK, not a text descriptor`);
  }
  const fields = new Map<string, string>();
  const extents: DescriptorExtent[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const ext = EXTENT.exec(line);
    if (ext !== null) {
      extents.push({
        access: ext[1] ?? "",
        sectors: Number(ext[2]),
        type: ext[3] ?? "",
        file: (ext[4] ?? "").replace(/\\(.)/g, "$1"),
        offset: Number(ext[5] ?? 0),
      });
      continue;
    }
    const eq = line.indexOf("=");
    if (eq > 0)
      fields.set(
        line.slice(0, eq).trim().toLowerCase(),
        line
          .slice(eq + 1)
          .trim()
          .replace(/^"(.*)"$/, "$1"),
      );
  }
  const createType = fields.get("createtype");
  if (createType === undefined || extents.length === 0) {
    throw vsphereError(
      "VSPHERE_DISK_UNSUPPORTED",
      `${where} is not a VMDK descriptor (createType ${createType ?? "missing"}, ${extents.length} extents)`,
    );
  }
  const parentCID = fields.get("parentcid");
  return {
    createType,
    parentCID: parentCID === undefined || parentCID.toLowerCase() === "ffffffff" ? undefined : parentCID,
    parentFileNameHint: fields.get("parentfilenamehint"),
    extents,
  };
}

/** The flat extents of a descriptor, or a clear refusal naming what the disk is instead (pure). */
export function flatExtents(d: VmdkDescriptor, where: string): DescriptorExtent[] {
  if (d.parentCID !== undefined || d.parentFileNameHint !== undefined) {
    throw vsphereError(
      "VSPHERE_DISK_UNSUPPORTED",
      `${where} is a snapshot delta (createType ${d.createType}, parent ${d.parentFileNameHint ?? d.parentCID}); reading -delta/-sesparse chains of pre-existing user snapshots is not supported by the /folder reader: remove the user snapshots or back up from a VM without them`,
      { details: { createType: d.createType } },
    );
  }
  const unsupported = d.extents.find((e) => e.type !== "VMFS" && e.type !== "FLAT" && e.type !== "ZERO");
  if (unsupported !== undefined) {
    throw vsphereError(
      "VSPHERE_DISK_UNSUPPORTED",
      `${where} has a ${unsupported.type} extent (createType ${d.createType}); only flat extents can be read over /folder or SSH`,
      {
        details: { createType: d.createType, extentType: unsupported.type },
      },
    );
  }
  return [...d.extents];
}
