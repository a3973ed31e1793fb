/**
 * The VMDK text descriptor: header keys (version, CID, parentCID, createType...), extent lines and
 * ddb entries. Pure parse/format; garbled or hostile text is refused with VMDK_DESCRIPTOR_INVALID.
 */
import { diskError } from "../errors.js";

export type ExtentAccess = "RW" | "RDONLY" | "NOACCESS";
export type ExtentType =
  "FLAT" | "SPARSE" | "ZERO" | "VMFS" | "VMFSSPARSE" | "VMFSRDM" | "VMFSRAW" | "SESPARSE";

export interface ExtentLine {
  readonly access: ExtentAccess;
  /** Size in 512-byte sectors. */
  readonly sectors: number;
  readonly type: ExtentType;
  /** File name as written (relative to the descriptor); absent for ZERO extents. */
  readonly file?: string;
  /** Start of the extent's data inside a flat file, in sectors. */
  readonly offset: number;
}

export interface VmdkDescriptor {
  readonly version: number;
  readonly cid: string;
  readonly parentCid: string;
  readonly createType: string;
  readonly parentFileNameHint?: string;
  readonly extents: readonly ExtentLine[];
  /** Every `key = value` pair outside the extent lines, ddb.* included, unquoted. */
  readonly entries: ReadonlyMap<string, string>;
  /** Sum of the extents, in bytes. */
  readonly capacity: number;
}

/** `parentCID` of a disk that has no parent. */
export const NO_PARENT_CID = "ffffffff";
const MAX_DESCRIPTOR_BYTES = 1024 * 1024;
const ACCESS = new Set<string>(["RW", "RDONLY", "NOACCESS"]);
const TYPES = new Set<string>([
  "FLAT",
  "SPARSE",
  "ZERO",
  "VMFS",
  "VMFSSPARSE",
  "VMFSRDM",
  "VMFSRAW",
  "SESPARSE",
]);
const EXTENT_LINE = /^(\S+)\s+(\d+)\s+(\S+)(?:\s+"([^"]*)"(?:\s+(\d+))?)?\s*$/;
const ENTRY_LINE = /^([A-Za-z][\w.-]*)\s*=\s*(.*)$/;

export function looksLikeDescriptor(bytes: Uint8Array): boolean {
  const head = Buffer.from(bytes.subarray(0, Math.min(bytes.length, 4096))).toString("latin1");
  return (
    /^\s*#\s*Disk DescriptorFile/i.test(head) ||
    (/^\s*#/.test(head) && /createType\s*=/.test(head) && !head.includes("\0"))
  );
}

export function parseDescriptor(bytes: Uint8Array, path: string): VmdkDescriptor {
  const fail = (message: string, details: Record<string, unknown> = {}): never => {
    throw diskError("VMDK_DESCRIPTOR_INVALID", `Invalid VMDK descriptor in "${path}": ${message}`, {
      path,
      ...details,
    });
  };
  // The text ends at the first NUL, as VMware and qemu read it: embedded descriptors are NUL-padded,
  // and rewriting a descriptor in place (a new, shorter CID) can leave old bytes after the NUL.
  const nul = bytes.indexOf(0);
  const body = nul === -1 ? bytes : bytes.subarray(0, nul);
  if (body.length > MAX_DESCRIPTOR_BYTES) fail(`${body.length} bytes is larger than ${MAX_DESCRIPTOR_BYTES}`);
  const text = Buffer.from(body).toString("utf8");
  if (hasControlCharacters(text)) fail("control characters or invalid UTF-8 in the text");

  const entries = new Map<string, string>();
  const extents: ExtentLine[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const lineNo = index + 1;
    const entry = ENTRY_LINE.exec(line);
    if (entry !== null) {
      entries.set(entry[1] as string, unquote(entry[2] as string));
      return;
    }
    const ext = EXTENT_LINE.exec(line);
    if (ext === null)
      return fail(`line ${lineNo} is neither an entry nor an extent: ${JSON.stringify(line.slice(0, 80))}`, {
        line: lineNo,
      });
    const [, access, sectors, type, file, offset] = ext as unknown as [
      string,
      string,
      string,
      string,
      string | undefined,
      string | undefined,
    ];
    if (!ACCESS.has(access))
      fail(`line ${lineNo}: unknown extent access ${JSON.stringify(access)}`, { line: lineNo });
    if (!TYPES.has(type))
      fail(`line ${lineNo}: unknown extent type ${JSON.stringify(type)}`, { line: lineNo });
    if (type !== "ZERO" && file === undefined)
      fail(`line ${lineNo}: ${type} extent without a file name`, { line: lineNo });
    const count = Number(sectors);
    const start = offset === undefined ? 0 : Number(offset);
    if (!Number.isSafeInteger(count * 512) || !Number.isSafeInteger(start * 512))
      fail(`line ${lineNo}: extent size ${sectors} is too large`);
    extents.push({
      access: access as ExtentAccess,
      sectors: count,
      type: type as ExtentType,
      ...(file === undefined ? {} : { file }),
      offset: start,
    });
  });

  if (extents.length === 0) fail("no extent lines");
  const createType = entries.get("createType");
  if (createType === undefined || createType === "") fail("createType missing");
  const version = Number(entries.get("version") ?? "1");
  if (!Number.isInteger(version) || version < 1 || version > 3)
    fail(`version ${entries.get("version")} is not 1, 2 or 3`);
  const cid = (entries.get("CID") ?? NO_PARENT_CID).toLowerCase();
  const parentCid = (entries.get("parentCID") ?? NO_PARENT_CID).toLowerCase();
  for (const [name, value] of [
    ["CID", cid],
    ["parentCID", parentCid],
  ] as const) {
    if (!/^[0-9a-f]{1,8}$/.test(value)) fail(`${name} ${JSON.stringify(value)} is not 8 hex digits`);
  }
  const capacity = extents.reduce((n, e) => n + e.sectors * 512, 0);
  if (!Number.isSafeInteger(capacity)) fail(`total size ${capacity} too large`);
  const hint = entries.get("parentFileNameHint");
  return {
    version,
    cid,
    parentCid,
    createType: createType as string,
    ...(hint === undefined ? {} : { parentFileNameHint: hint }),
    extents,
    entries,
    capacity,
  };
}

/** C0 controls other than tab/newline/carriage return, or U+FFFD left by invalid UTF-8. */
function hasControlCharacters(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0xfffd) return true;
  }
  return false;
}

function unquote(value: string): string {
  const v = value.trim();
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
}

export interface DescriptorSpec {
  readonly createType: string;
  readonly extents: readonly ExtentLine[];
  readonly cid?: string;
  readonly parentCid?: string;
  /** ddb entries (`ddb.adapterType`, `ddb.geometry.cylinders`...); defaults are derived when absent. */
  readonly ddb?: ReadonlyMap<string, string>;
}

/** Formats a descriptor the way VMware tools write it (FLAT extents always carry their offset). */
export function formatDescriptor(spec: DescriptorSpec): string {
  const sectors = spec.extents.reduce((n, e) => n + e.sectors, 0);
  const ddb = new Map<string, string>([
    ["ddb.virtualHWVersion", "4"],
    ["ddb.geometry.cylinders", String(Math.min(65535, Math.floor(sectors / (255 * 63))))],
    ["ddb.geometry.heads", "255"],
    ["ddb.geometry.sectors", "63"],
    ["ddb.adapterType", "lsilogic"],
  ]);
  for (const [k, v] of spec.ddb ?? []) ddb.set(k, v);
  const lines = [
    "# Disk DescriptorFile",
    "version=1",
    `CID=${spec.cid ?? randomCid()}`,
    `parentCID=${spec.parentCid ?? NO_PARENT_CID}`,
    `createType="${spec.createType}"`,
    "",
    "# Extent description",
    ...spec.extents.map((e) =>
      e.type === "ZERO"
        ? `${e.access} ${e.sectors} ZERO`
        : `${e.access} ${e.sectors} ${e.type} "${e.file}"${e.offset || e.type === "FLAT" ? ` ${e.offset}` : ""}`,
    ),
    "",
    "# The Disk Data Base",
    "#DDB",
    "",
    ...[...ddb].map(([k, v]) => `${k} = "${v}"`),
    "",
  ];
  return lines.join("\n");
}

export function randomCid(): string {
  return Math.floor(Math.random() * 0xfffffffe)
    .toString(16)
    .padStart(8, "0");
}
