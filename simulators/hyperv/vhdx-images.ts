/**
 * The simulator's disks as real VHDX files, through the VHDX writer of src/disk/vhdx. Writers stay
 * open per active file; a file is closed before it is frozen under a differencing child, since a
 * child's parent_linkage pins the parent's DataWriteGuid.
 */
import { unlink } from "node:fs/promises";
import {
  createDifferencingVhdx,
  createVhdx,
  openVhdxForWrite,
  type VhdxWriter,
} from "../../src/disk/vhdx/api.js";
import { openVhdx } from "../../src/disk/vhdx/open.js";
import type { DiskImages } from "./disks.js";

const MiB = 2 ** 20;

export class VhdxImages implements DiskImages {
  readonly #writers = new Map<string, VhdxWriter>();

  async #writer(file: string): Promise<VhdxWriter> {
    let w = this.#writers.get(file);
    if (!w) {
      w = await openVhdxForWrite(file);
      this.#writers.set(file, w);
    }
    return w;
  }

  async #release(file: string): Promise<void> {
    const w = this.#writers.get(file);
    if (w) {
      this.#writers.delete(file);
      await w.close();
    }
  }

  async createDynamic(
    file: string,
    size: number,
    options: { blockSize?: number; diskId: string },
  ): Promise<void> {
    const w = await createVhdx(file, {
      virtualSize: size,
      blockSize: options.blockSize ?? 2 * MiB,
      diskId: options.diskId,
    });
    this.#writers.set(file, w);
  }

  async createDifferencing(file: string, parentFile: string, parentWindowsPath: string): Promise<void> {
    await this.#release(parentFile);
    const w = await createDifferencingVhdx(file, parentFile, { parentWin32Path: parentWindowsPath });
    this.#writers.set(file, w);
  }

  async write(file: string, offset: number, data: Uint8Array): Promise<void> {
    await (await this.#writer(file)).write(data, offset);
  }

  async read(file: string, offset: number, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    const open = this.#writers.get(file);
    if (open) {
      await open.read(out, offset);
      return out;
    }
    const disk = await openVhdx(file);
    try {
      await disk.read(out, offset);
    } finally {
      await disk.close();
    }
    return out;
  }

  async merge(childFile: string, parentFile: string): Promise<void> {
    await this.#release(childFile);
    const child = await openVhdx(childFile);
    try {
      const parent = await this.#writer(parentFile);
      // The child's view over its data areas is what the parent must hold after the merge.
      for (const extent of await child.allocated()) {
        for (let at = extent.start; at < extent.start + extent.length; at += 4 * MiB) {
          const buf = new Uint8Array(Math.min(4 * MiB, extent.start + extent.length - at));
          await child.read(buf, at);
          await parent.write(buf, at);
        }
      }
    } finally {
      await child.close();
    }
    await unlink(childFile);
  }

  async close(): Promise<void> {
    for (const file of [...this.#writers.keys()]) await this.#release(file);
  }
}
