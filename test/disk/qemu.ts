/**
 * Test helpers around qemu-img / qemu-io (Debian qemu-utils): the independent implementation our
 * VMDK/VHDX code is checked against. Tests skip with a clear message when qemu-img is absent.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { DiskSource } from "../../src/domain/ports.js";

const run = promisify(execFile);

export const qemuMissing: string | false = await (async () => {
  try {
    await run("qemu-img", ["--version"]);
    await run("qemu-io", ["--version"]);
    return false;
  } catch {
    return "qemu-img/qemu-io not installed (apt-get install qemu-utils); CI installs it";
  }
})();

export async function qemuImg(...args: string[]): Promise<string> {
  const { stdout } = await run("qemu-img", args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/** Runs qemu-io commands (e.g. `write -P 0xab 0 64k`) on an image. */
export async function qemuIo(format: string, file: string, ...commands: string[]): Promise<void> {
  const args = ["-f", format];
  for (const c of commands) args.push("-c", c);
  await run("qemu-io", [...args, file]);
}

/** `qemu-img convert -O raw` of an image, as bytes. */
export async function qemuRaw(dir: string, file: string, format: string): Promise<Buffer> {
  const out = join(dir, `ref-${Math.random().toString(36).slice(2)}.raw`);
  await qemuImg("convert", "-f", format, "-O", "raw", file, out);
  const bytes = await readFile(out);
  await rm(out);
  return bytes;
}

export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "snapvisor-disk-"));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Reads a whole disk in 1 MiB pieces at odd boundaries, so reads straddle blocks and grains. */
export async function readWhole(disk: DiskSource, step = 1024 * 1024 - 4096 + 512): Promise<Buffer> {
  const out = Buffer.alloc(disk.capacity);
  for (let at = 0; at < disk.capacity; at += step) {
    const got = await disk.read(out.subarray(at, Math.min(at + step, disk.capacity)), at);
    if (got !== Math.min(step, disk.capacity - at)) throw new Error(`short read at ${at}: ${got}`);
  }
  return out;
}

/** Bytes of `bytes` that fall outside every extent must be zero (allocated() never under-reports). */
export function zeroOutside(
  bytes: Uint8Array,
  extents: readonly { start: number; length: number }[],
): boolean {
  let pos = 0;
  for (const e of [...extents, { start: bytes.length, length: 0 }]) {
    for (let i = pos; i < e.start; i++) if (bytes[i] !== 0) return false;
    pos = e.start + e.length;
  }
  return true;
}
