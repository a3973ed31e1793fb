/** Opens a VHDX chain: the file, then parents named by the parent locator, checked by linkage GUID. */
import { posix } from "node:path";
import type { ByteSource } from "../../domain/ports.js";
import { isSnapvisorError } from "../../domain/errors.js";
import { diskError } from "../errors.js";
import { fileOpener, type OpenImageOptions } from "../image-options.js";
import { readVhdxLayout, type VhdxLayout } from "./layout.js";
import { VhdxDisk } from "./reader.js";

/** Opens the VHDX at `path` (and its parents when it is a differencing disk). */
export async function openVhdx(path: string, options: OpenImageOptions = {}): Promise<VhdxDisk> {
  const source = await fileOpener(options)(path, options.signal);
  return openVhdxSource(source, path, options);
}

/** Opens a VHDX over an already open source; the disk owns the source (closed with it). */
export async function openVhdxSource(
  source: ByteSource,
  path: string,
  options: OpenImageOptions = {},
  depth = 0,
): Promise<VhdxDisk> {
  try {
    const layout = await readVhdxLayout(source, path, options.signal);
    if (!layout.metadata.hasParent) return new VhdxDisk(source, layout);
    const maxDepth = options.maxChainDepth ?? 64;
    if (depth >= maxDepth) {
      throw diskError(
        "VHDX_PARENT_INVALID",
        `VHDX chain of "${path}" is longer than ${maxDepth} files (a cycle?)`,
        { path, maxDepth },
      );
    }
    const parent = await openVhdxParent(layout, options, depth);
    return new VhdxDisk(source, layout, parent);
  } catch (err) {
    await source.close();
    throw err;
  }
}

/** Candidate parent paths in the order the locator should be trusted. */
export function parentCandidates(layout: VhdxLayout, options: OpenImageOptions = {}): string[] {
  const entries = layout.metadata.parentLocator?.entries ?? new Map<string, string>();
  const dir = posix.dirname(layout.path);
  const out: string[] = [];
  const relative = entries.get("relative_path");
  if (relative !== undefined && relative !== "") out.push(posix.resolve(dir, relative.replaceAll("\\", "/")));
  for (const key of ["absolute_win32_path", "volume_path"]) {
    const value = entries.get(key);
    if (value === undefined || value === "") continue;
    const mapped = options.mapParentPath?.(value, layout.path);
    if (mapped !== undefined) out.push(mapped);
    if (value.startsWith("/")) out.push(value);
    // A chain copied off a Windows host keeps its file names: look beside the child.
    out.push(posix.join(dir, posix.basename(value.replaceAll("\\", "/"))));
  }
  return [...new Set(out)];
}

function normalizeGuid(text: string | undefined): string | undefined {
  return text?.replace(/[{}]/g, "").toUpperCase();
}

/** Opens and checks the parent of a differencing VHDX (by its locator and linkage GUIDs). */
export async function openVhdxParent(
  layout: VhdxLayout,
  options: OpenImageOptions,
  depth = 0,
): Promise<VhdxDisk> {
  const entries = layout.metadata.parentLocator?.entries ?? new Map<string, string>();
  const linkages = [entries.get("parent_linkage"), entries.get("parent_linkage2")]
    .map(normalizeGuid)
    .filter((g) => g !== undefined);
  if (linkages.length === 0) {
    throw diskError(
      "VHDX_PARENT_INVALID",
      `Differencing VHDX "${layout.path}" has no parent_linkage in its parent locator`,
      {
        path: layout.path,
      },
    );
  }
  const tried: string[] = [];
  const open = fileOpener(options);
  for (const candidate of parentCandidates(layout, options)) {
    let source: ByteSource;
    try {
      source = await open(candidate, options.signal);
    } catch (err) {
      if (isSnapvisorError(err, "DISK_ABORTED")) throw err;
      tried.push(`${candidate}: ${(err as Error).message}`);
      continue;
    }
    const parent = await openVhdxSource(source, candidate, options, depth + 1);
    const guid = parent.layout.header.dataWriteGuid;
    if (!linkages.includes(guid)) {
      await parent.close();
      tried.push(
        `${candidate}: DataWriteGuid ${guid} does not match parent_linkage ${linkages.join(" or ")} (the parent changed after the child was made)`,
      );
      continue;
    }
    if (parent.capacity !== layout.metadata.virtualDiskSize) {
      await parent.close();
      throw diskError(
        "VHDX_PARENT_INVALID",
        `Parent "${candidate}" of "${layout.path}" is ${parent.capacity} bytes, the child ${layout.metadata.virtualDiskSize}`,
        { path: layout.path, parent: candidate },
      );
    }
    return parent;
  }
  throw diskError(
    "VHDX_PARENT_INVALID",
    `No usable parent for differencing VHDX "${layout.path}": ${tried.join("; ") || "the locator names no path"}`,
    {
      path: layout.path,
      tried,
    },
  );
}
