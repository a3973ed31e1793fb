/**
 * `openDiskImage(path)`: detects the format from the file's signature and opens it as a DiskSource.
 * `vhdxfile` -> VHDX, `KDMV` -> sparse VMDK, a `# Disk DescriptorFile` text -> VMDK descriptor, and
 * anything else -> raw. Formats we recognise but do not read (VHD, qcow2, VHD Sets) are refused.
 */
import type { ByteSource, DiskSource } from "../domain/ports.js";
import { ascii, u32 } from "./bytes.js";
import { diskError } from "./errors.js";
import { fileOpener, type OpenImageOptions } from "./image-options.js";
import { RawDisk } from "./raw.js";
import { openVhdxSource } from "./vhdx/open.js";
import { looksLikeDescriptor } from "./vmdk/descriptor.js";
import { openVmdkSource } from "./vmdk/open.js";
import { isSparseMagic } from "./vmdk/sparse-header.js";

export type ImageFormat = "vhdx" | "vmdk" | "raw";

/** Format of an image from its first bytes (at least 4 KiB when the file has them). */
export function detectImageFormat(head: Uint8Array): ImageFormat | { readonly unsupported: string } {
  if (ascii(head, 0, 8) === "vhdxfile") return "vhdx";
  if (isSparseMagic(head)) return "vmdk";
  if (looksLikeDescriptor(head)) return "vmdk";
  if (ascii(head, 0, 4) === "COWD")
    return { unsupported: "an ESXi VMFSsparse delta extent (-delta.vmdk); open its descriptor" };
  if (head.length >= 8 && u32(head, 0) === 0xcafebabe && u32(head, 4) === 0) {
    return { unsupported: "an ESXi SEsparse delta extent (-sesparse.vmdk); open its descriptor" };
  }
  if (ascii(head, 0, 4) === "QFI\xfb") return { unsupported: "a qcow2 image" };
  if (ascii(head, 0, 8) === "conectix") return { unsupported: "a VHD (v1) image" };
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
  let format: ReturnType<typeof detectImageFormat>;
  try {
    format = detectImageFormat(await source.read(0, 4096, options.signal));
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
  return withFormat(await openAs(format, source, path, options), format);
}

async function openAs(
  format: ImageFormat,
  source: ByteSource,
  path: string,
  options: OpenImageOptions,
): Promise<DiskSource> {
  switch (format) {
    case "vhdx":
      return openVhdxSource(source, path, options);
    case "vmdk":
      return openVmdkSource(source, path, options);
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
