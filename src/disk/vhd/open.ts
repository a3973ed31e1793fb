/** Opens a VHD (v1) file and, for differencing disks, its parent (checked by unique id). */
import { posix } from "node:path";
import type { ByteSource, DiskSource } from "../../domain/ports.js";
import { isSnapvisorError } from "../../domain/errors.js";
import { diskError } from "../errors.js";
import { fileOpener, type OpenImageOptions } from "../image-options.js";
import { openDiskImageSource } from "../open-image.js";
import {
  BAT_UNUSED,
  decodeDynamicHeader,
  decodeFooter,
  isVhdFooter,
  VHD_DIFFERENCING,
  VHD_FIXED,
  vhdCapacity,
  type VhdDynamicHeader,
} from "./format.js";
import { VhdDisk, type VhdLayout } from "./reader.js";

export async function openVhdSource(
  source: ByteSource,
  path: string,
  options: OpenImageOptions = {},
  depth = 0,
): Promise<VhdDisk> {
  try {
    const layout = await readLayout(source, path, options.signal);
    if (layout.footer.diskType !== VHD_DIFFERENCING) return new VhdDisk(source, layout);
    const parent = await openParent(source, layout, options, depth);
    return new VhdDisk(source, layout, parent);
  } catch (err) {
    await source.close();
    throw err;
  }
}

async function readLayout(source: ByteSource, path: string, signal?: AbortSignal): Promise<VhdLayout> {
  if (source.size < 512) throw diskError("VHD_INVALID", `"${path}" is too small for a VHD`, { path });
  let footerBytes = await source.read(source.size - 512, 512, signal);
  // Dynamic disks keep a copy at the start; a damaged trailing footer falls back to it.
  if (!isVhdFooter(footerBytes)) footerBytes = await source.read(0, 512, signal);
  const footer = decodeFooter(footerBytes, path);
  const capacity = vhdCapacity(footer);
  if (footer.diskType === VHD_FIXED) {
    if (source.size < capacity + 512)
      throw diskError("VHD_INVALID", `Fixed VHD "${path}" holds less than its ${capacity} bytes`, { path });
    return { path, footer, capacity };
  }
  if (footer.dataOffset > BigInt(source.size))
    throw diskError("VHD_INVALID", `VHD "${path}" has its dynamic header past the file end`, { path });
  const header = decodeDynamicHeader(await source.read(Number(footer.dataOffset), 1024, signal), path);
  const blocks = Math.ceil(capacity / header.blockSize);
  if (header.maxTableEntries < blocks) {
    throw diskError(
      "VHD_INVALID",
      `VHD "${path}" has ${header.maxTableEntries} BAT entries for ${blocks} blocks`,
      { path },
    );
  }
  const batBytes = await source.read(header.tableOffset, blocks * 4, signal);
  if (batBytes.length < blocks * 4)
    throw diskError("VHD_INVALID", `BAT of VHD "${path}" runs past the file end`, { path });
  const bitmapBytes = Math.ceil(header.blockSize / 512 / 8 / 512) * 512;
  const bat = new Uint32Array(blocks);
  const view = new DataView(batBytes.buffer, batBytes.byteOffset, batBytes.byteLength);
  for (let i = 0; i < blocks; i++) {
    const sector = view.getUint32(i * 4, false);
    if (
      sector !== BAT_UNUSED &&
      sector * 512 + bitmapBytes + Math.min(header.blockSize, capacity - i * header.blockSize) > source.size
    ) {
      throw diskError(
        "VHD_INVALID",
        `BAT entry ${i} of VHD "${path}" points at sector ${sector}, past the file end`,
        { path, block: i },
      );
    }
    bat[i] = sector;
  }
  return { path, footer, capacity, dynamic: { header, bat, bitmapBytes } };
}

/** Parent paths from the locators: relative (W2ru) first, then absolute (W2ku) mapped beside the child. */
async function parentCandidates(
  source: ByteSource,
  header: VhdDynamicHeader,
  path: string,
  signal?: AbortSignal,
): Promise<string[]> {
  const dir = posix.dirname(path);
  const out: string[] = [];
  for (const code of ["W2ru", "W2ku", "Wi2r", "Wi2k"]) {
    for (const loc of header.locators.filter((l) => l.platformCode === code)) {
      if (loc.dataLength === 0 || loc.dataLength > 4096) continue;
      const raw = await source.read(loc.dataOffset, loc.dataLength, signal);
      const text = (
        code.startsWith("W2") ? Buffer.from(raw).toString("utf16le") : Buffer.from(raw).toString("latin1")
      ).replace(/\0.*$/s, "");
      const name = text.replaceAll("\\", "/");
      if (code === "W2ru" || code === "Wi2r") out.push(posix.resolve(dir, name));
      out.push(posix.join(dir, posix.basename(name)));
    }
  }
  if (header.parentName !== "")
    out.push(posix.join(dir, posix.basename(header.parentName.replaceAll("\\", "/"))));
  return [...new Set(out)];
}

async function openParent(
  source: ByteSource,
  layout: VhdLayout,
  options: OpenImageOptions,
  depth: number,
): Promise<DiskSource> {
  const header = layout.dynamic?.header as VhdDynamicHeader;
  if (depth >= (options.maxChainDepth ?? 64))
    throw diskError("VHD_INVALID", `VHD chain of "${layout.path}" is too long`, { path: layout.path });
  const tried: string[] = [];
  for (const candidate of await parentCandidates(source, header, layout.path, options.signal)) {
    let parentSource: ByteSource;
    try {
      parentSource = await fileOpener(options)(candidate, options.signal);
    } catch (err) {
      if (isSnapvisorError(err, "DISK_ABORTED")) throw err;
      tried.push(`${candidate}: ${(err as Error).message}`);
      continue;
    }
    const parent = await openDiskImageSource(parentSource, candidate, options, depth + 1);
    const id = parent instanceof VhdDisk ? parent.layout.footer.uniqueId : undefined;
    if (id !== header.parentUniqueId || parent.capacity !== layout.capacity) {
      await parent.close();
      tried.push(`${candidate}: unique id ${id ?? "(not a VHD)"} or size ${parent.capacity} does not match`);
      continue;
    }
    return parent;
  }
  throw diskError(
    "VHD_INVALID",
    `No usable parent for differencing VHD "${layout.path}": ${tried.join("; ") || "no locator names one"}`,
    {
      path: layout.path,
      tried,
    },
  );
}
