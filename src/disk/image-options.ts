/** Options shared by the image openers (VMDK, VHDX, raw). */
import type { ByteSource } from "../domain/ports.js";
import { openFileSource } from "./file-source.js";

export type OpenFile = (path: string, signal?: AbortSignal) => Promise<ByteSource>;

export interface OpenImageOptions {
  readonly signal?: AbortSignal;
  /**
   * Opens a file of the image (descriptor, extents, parents) as a ByteSource. Defaults to local
   * files. Paths are POSIX-style: SFTP adapters pass `/C:/...` paths and their own opener.
   */
  readonly openFile?: OpenFile;
  /** Longest parent chain followed (differencing VHDX); guards against cycles. Default 64. */
  readonly maxChainDepth?: number;
  /**
   * Maps a parent named by an absolute path inside the image (an ESXi `parentFileNameHint` such as
   * `/vmfs/volumes/ds1/base/base.vmdk`, a VHDX `absolute_win32_path`) to a path `openFile` can open,
   * or `undefined` to use the file of that name beside the child. Only parents go through it: extent
   * names must stay beside their descriptor.
   */
  readonly mapParentPath?: (absolutePath: string, childPath: string) => string | undefined;
}

export function fileOpener(options: OpenImageOptions): OpenFile {
  return options.openFile ?? openFileSource;
}
