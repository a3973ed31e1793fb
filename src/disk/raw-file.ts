import * as fs from "node:fs/promises";
import type { DiskSource } from "../domain/ports.js";

/** A raw image file as a DiskSource (positional reads; the file's size is the capacity). */
export async function openRawFile(path: string): Promise<DiskSource> {
  const fh = await fs.open(path, "r");
  const { size } = await fh.stat();
  return {
    capacity: size,
    async read(target, offset) {
      const { bytesRead } = await fh.read(target, 0, target.length, offset);
      return bytesRead;
    },
    async close() {
      await fh.close();
    },
  };
}
