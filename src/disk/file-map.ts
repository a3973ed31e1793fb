/**
 * Where a local file holds data: the extents that are not holes (nor preallocated, unwritten space,
 * which reads as zeros). Node has no binding for lseek(SEEK_DATA) or the FIEMAP ioctl, so the map
 * comes from e2fsprogs' `filefrag`, which asks the file system through FIEMAP (ext4, xfs, btrfs and
 * most others). A sparse raw image of 2 TiB holding 50 GiB is then read as 50 GiB, not 2 TiB of
 * zeros. When the map cannot be had (no filefrag, a file system without FIEMAP, output not
 * understood), the caller reads the whole file: slower, never wrong.
 */
import { spawn } from "node:child_process";
import type { FileHandle } from "node:fs/promises";
import type { Extent } from "../domain/ports.js";

/**
 * Parses `filefrag -e` output into data extents in bytes, sorted and merged, clipped to `size`;
 * undefined when the text is not what filefrag prints for a mapped file.
 */
export function parseFilefrag(text: string, size: number): Extent[] | undefined {
  const geometry = / is (\d+) \((\d+) blocks? of (\d+) bytes\)$/m.exec(text);
  if (!geometry || Number(geometry[1]) !== size) return undefined;
  const block = Number(geometry[3]);
  if (!Number.isSafeInteger(block) || block <= 0 || (block & (block - 1)) !== 0) return undefined;
  const lines = text.split("\n");
  const footer = lines.findIndex((l) => /: \d+ extents? found$/.test(l));
  if (footer < 0) return undefined;
  if (/: 0 extents found$/.test(lines[footer]!)) return []; // all holes: no table is printed
  const header = lines.findIndex((l) => /^\s*ext:\s+logical_offset:/.test(l));
  if (header < 0 || footer < header) return undefined;
  const out: Extent[] = [];
  for (const line of lines.slice(header + 1, footer)) {
    const m = /^\s*\d+:\s+(\d+)\.\.\s*(\d+):\s+\d+\.\.\s*\d+:\s+(\d+):\s*(?:\d+:)?\s*(.*)$/.exec(line);
    if (!m) return undefined;
    const first = Number(m[1]);
    const last = Number(m[2]);
    const blocks = Number(m[3]);
    if (last < first || blocks !== last - first + 1) return undefined;
    const flags = m[4]!.split(",").map((f) => f.trim());
    if (flags.includes("unwritten")) continue;
    const start = first * block;
    const end = Math.min(size, (last + 1) * block);
    if (!Number.isSafeInteger(end) || start >= end) continue;
    const prev = out.at(-1);
    if (prev && start < prev.start) return undefined; // filefrag lists extents in file order
    if (prev && start <= prev.start + prev.length) {
      (prev as { length: number }).length = Math.max(prev.length, end - prev.start);
    } else out.push({ start, length: end - start });
  }
  return out;
}

/**
 * The data extents of an open local file, or undefined when they cannot be had. filefrag is given
 * the caller's descriptor (`/dev/fd/3`), so it maps the very file that is read, whatever its name.
 */
export async function mapFileData(
  handle: FileHandle,
  size: number,
  signal?: AbortSignal,
): Promise<Extent[] | undefined> {
  const text = await new Promise<string | undefined>((resolve) => {
    let child;
    try {
      child = spawn("filefrag", ["-s", "-e", "/dev/fd/3"], {
        stdio: ["ignore", "pipe", "ignore", handle.fd],
        env: { ...process.env, LC_ALL: "C" },
        ...(signal ? { signal } : {}),
      });
    } catch {
      resolve(undefined);
      return;
    }
    let out = "";
    child.stdout?.setEncoding("utf8").on("data", (c: string) => {
      if (out.length < 4 * 1024 * 1024) out += c;
    });
    child.on("error", () => resolve(undefined));
    child.on("close", (code) => resolve(code === 0 ? out : undefined));
  });
  return text === undefined ? undefined : parseFilefrag(text, size);
}
