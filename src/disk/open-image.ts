/**
 * `openDiskImage(path)`: detects the format from the file's signature and opens it as a DiskSource.
 * `vhdxfile` -> VHDX, `KDMV` -> sparse VMDK, a `# Disk DescriptorFile` text -> VMDK descriptor,
 * `conectix` at the start or in the last sector -> VHD, anything else -> raw. Formats we recognise
 * but do not read (qcow2, VHD Sets, bare ESXi delta extents) are refused. Each format's reader is
 * imported once the signature names it, so opening a raw image loads none of them (docs/cli-startup.md).
 */
import type { ByteSource, DiskSource } from "../domain/ports.js";
import { ascii, u32 } from "./bytes.js";
import { diskError } from "./errors.js";
import { fileOpener, type OpenImageOptions } from "./image-options.js";
import { RawDisk } from "./raw.js";
import { looksLikeDescriptor } from "./vmdk/descriptor.js";
import { isSparseMagic } from "./vmdk/sparse-header.js";
import { isVhdFooter } from "./vhd/format.js";

export type ImageFormat = "vhdx" | "vmdk" | "vhd" | "raw";

/**
 * Format of an image from its first bytes (at least 4 KiB when the file has them) and its last 512
 * bytes (where a fixed VHD keeps its only footer).
 */
export function detectImageFormat(
  head: Uint8Array,
  tail?: Uint8Array,
): ImageFormat | { readonly unsupported: string } {
  if (ascii(head, 0, 8) === "vhdxfile") return "vhdx";
  if (isSparseMagic(head)) return "vmdk";
  if (looksLikeDescriptor(head)) return "vmdk";
  if (ascii(head, 0, 4) === "COWD")
    return { unsupported: "an ESXi VMFSsparse delta extent (-delta.vmdk); open its descriptor" };
  if (head.length >= 8 && u32(head, 0) === 0xcafebabe && u32(head, 4) === 0) {
    return { unsupported: "an ESXi SEsparse delta extent (-sesparse.vmdk); open its descriptor" };
  }
  if (ascii(head, 0, 4) === "QFI\xfb") return { unsupported: "a qcow2 image" };
  if (ascii(head, 0, 8) === "conectix" || (tail !== undefined && isVhdFooter(tail))) return "vhd";
  if (ascii(head, 0, 8) === "vhdxset\0" || ascii(head, 0, 8) === "vhdset\0\0")
    return { unsupported: "a VHD Set (.vhds)" };
  return "raw";
}

/** Opens an image file of any supported format; `snapvisor backup image FILE` uses this. */
export async function openDiskImage(
  path: string,
  options: OpenImageOptions = {},
): Promise<DiskSource & { readonly format: ImageFormat }> {
  const source = await fileOpener(options)(path, options.signal);
  return openDiskImageSource(source, path, options);
}

/** Detects the format of an open source and opens it; the disk owns `source`. */
export async function openDiskImageSource(
  source: ByteSource,
  path: string,
  options: OpenImageOptions = {},
  depth = 0,
): Promise<DiskSource & { readonly format: ImageFormat }> {
  let format: ReturnType<typeof detectImageFormat>;
  try {
    const head = await source.read(0, 4096, options.signal);
    const tail = source.size >= 1024 ? await source.read(source.size - 512, 512, options.signal) : undefined;
    format = detectImageFormat(head, tail);
  } catch (err) {
    await source.close();
    throw err;
  }
  if (typeof format !== "string") {
    await source.close();
    throw diskError(
      "DISK_FORMAT_UNSUPPORTED",
      `"${path}" is ${format.unsupported}, which snapvisor does not read`,
      { path },
    );
  }
  return withFormat(await openAs(format, source, path, options, depth), format);
}

async function openAs(
  format: ImageFormat,
  source: ByteSource,
  path: string,
  options: OpenImageOptions,
  depth: number,
): Promise<DiskSource> {
  switch (format) {
    case "vhdx":
      return (await import("./vhdx/open.js")).openVhdxSource(source, path, options, depth);
    case "vmdk":
      return (await import("./vmdk/open.js")).openVmdkSource(source, path, options, depth);
    case "vhd":
      return (await import("./vhd/open.js")).openVhdSource(source, path, options, depth);
    case "raw":
      return new RawDisk(source, path);
  }
}

function withFormat<T extends DiskSource>(
  disk: T,
  format: ImageFormat,
): T & { readonly format: ImageFormat } {
  return Object.assign(disk, { format });
}
