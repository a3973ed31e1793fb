/**
 * The extents behind a simulated virtual disk, as real files: a flat extent (`-flat.vmdk`, raw, sparse
 * on the host file system) for the base disk, and VMFSsparse redo logs (`-delta.vmdk`, "COWD") for
 * every snapshot level, which is what ESXi writes on VMFS5 for disks under 2 TB.
 *
 * COWD layout (as read by Xen Orchestra's VhdEsxiCowd and libvmdk): a 2048-byte header (magic "COWD",
 * version 1, flags 3, capacity in sectors, grain size 1 sector, grain directory at sector 4, number of
 * GD entries, next free sector), the grain directory (u32 sector offsets of grain tables), grain tables
 * of 4096 u32 entries (one per 512-byte grain, 2 MiB per table), then grains. 0 = not present here
 * (read the parent).
 */
import { closeSync, ftruncateSync, openSync, readSync, writeSync } from "node:fs";

export const SECTOR = 512;
const GT_ENTRIES = 4096;
const GD_SECTOR = 4;

export interface Layer {
  readonly kind: "flat" | "cowd";
  /** Absolute path of the extent file. */
  readonly path: string;
  /** True when the layer holds sector `s` (a flat extent holds every sector). */
  has(sector: number): boolean;
  readSectors(sector: number, count: number, target: Buffer, targetOffset: number): void;
  writeSectors(sector: number, data: Buffer): void;
  /** Runs of sectors present in this layer, ascending: [first, count]. */
  presentRuns(): Generator<[number, number]>;
  close(): void;
}

export class FlatLayer implements Layer {
  readonly kind = "flat";
  #fd: number;
  constructor(
    readonly path: string,
    readonly sectors: number,
    create: boolean,
  ) {
    this.#fd = openSync(path, create ? "w+" : "r+");
    if (create) ftruncateSync(this.#fd, sectors * SECTOR);
  }
  has(): boolean {
    return true;
  }
  readSectors(sector: number, count: number, target: Buffer, targetOffset: number): void {
    readSync(this.#fd, target, targetOffset, count * SECTOR, sector * SECTOR);
  }
  writeSectors(sector: number, data: Buffer): void {
    writeSync(this.#fd, data, 0, data.length, sector * SECTOR);
  }
  *presentRuns(): Generator<[number, number]> {
    yield [0, this.sectors];
  }
  close(): void {
    closeSync(this.#fd);
  }
}

export class CowdLayer implements Layer {
  readonly kind = "cowd";
  #fd: number;
  readonly #gdEntries: number;
  readonly #gd: Uint32Array;
  readonly #gts = new Map<number, Uint32Array>();
  #freeSector: number;

  constructor(
    readonly path: string,
    readonly sectors: number,
  ) {
    this.#gdEntries = Math.ceil(sectors / GT_ENTRIES);
    this.#gd = new Uint32Array(this.#gdEntries);
    this.#freeSector = GD_SECTOR + Math.ceil((this.#gdEntries * 4) / SECTOR);
    this.#fd = openSync(path, "w+");
    const header = Buffer.alloc(GD_SECTOR * SECTOR);
    header.write("COWD", 0, "latin1");
    header.writeUInt32LE(1, 4);
    header.writeUInt32LE(3, 8);
    header.writeUInt32LE(sectors, 12);
    header.writeUInt32LE(1, 16);
    header.writeUInt32LE(GD_SECTOR, 20);
    header.writeUInt32LE(this.#gdEntries, 24);
    writeSync(this.#fd, header, 0, header.length, 0);
    this.#writeGd();
    this.#writeFreeSector();
  }

  has(sector: number): boolean {
    return this.#grain(sector) !== 0;
  }

  #grain(sector: number): number {
    const gt = this.#gts.get(Math.floor(sector / GT_ENTRIES));
    return gt ? gt[sector % GT_ENTRIES]! : 0;
  }

  readSectors(sector: number, count: number, target: Buffer, targetOffset: number): void {
    for (let i = 0; i < count; i++) {
      const g = this.#grain(sector + i);
      const at = targetOffset + i * SECTOR;
      if (g === 0) target.fill(0, at, at + SECTOR);
      else readSync(this.#fd, target, at, SECTOR, g * SECTOR);
    }
  }

  writeSectors(sector: number, data: Buffer): void {
    const count = data.length / SECTOR;
    for (let i = 0; i < count; i++) {
      const s = sector + i;
      const gdIndex = Math.floor(s / GT_ENTRIES);
      let gt = this.#gts.get(gdIndex);
      if (!gt) {
        gt = new Uint32Array(GT_ENTRIES);
        this.#gts.set(gdIndex, gt);
        this.#gd[gdIndex] = this.#freeSector;
        this.#freeSector += (GT_ENTRIES * 4) / SECTOR;
        this.#writeGd();
      }
      let g = gt[s % GT_ENTRIES]!;
      if (g === 0) {
        g = this.#freeSector++;
        gt[s % GT_ENTRIES] = g;
        const entry = Buffer.alloc(4);
        entry.writeUInt32LE(g, 0);
        writeSync(this.#fd, entry, 0, 4, this.#gd[gdIndex]! * SECTOR + (s % GT_ENTRIES) * 4);
      }
      writeSync(this.#fd, data, i * SECTOR, SECTOR, g * SECTOR);
    }
    this.#writeFreeSector();
  }

  *presentRuns(): Generator<[number, number]> {
    const tables = [...this.#gts.keys()].sort((a, b) => a - b);
    let runStart = -1;
    let runLen = 0;
    for (const t of tables) {
      const gt = this.#gts.get(t)!;
      for (let i = 0; i < GT_ENTRIES; i++) {
        const s = t * GT_ENTRIES + i;
        if (gt[i] !== 0) {
          if (runLen > 0 && runStart + runLen === s) runLen++;
          else {
            if (runLen > 0) yield [runStart, runLen];
            runStart = s;
            runLen = 1;
          }
        }
      }
    }
    if (runLen > 0) yield [runStart, runLen];
  }

  #writeGd(): void {
    const buf = Buffer.from(this.#gd.buffer, this.#gd.byteOffset, this.#gd.byteLength);
    writeSync(this.#fd, buf, 0, buf.length, GD_SECTOR * SECTOR);
  }

  #writeFreeSector(): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(this.#freeSector, 0);
    writeSync(this.#fd, b, 0, 4, 28);
  }

  close(): void {
    closeSync(this.#fd);
  }
}
