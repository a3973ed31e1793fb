/**
 * One simulated virtual disk: a chain of real extent files under its datastore folder (base flat
 * extent, then one redo log per snapshot level) with ESXi-style descriptors, an allocation map for
 * CBT `*` queries, and the change tracker once CBT is active.
 */
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AllocationMap, ChangeTracker } from "./cbt.js";
import { CowdLayer, FlatLayer, SECTOR, type Layer } from "./layers.js";

export interface ChainLink {
  /** Descriptor file name inside the VM folder ("web-000001.vmdk"). */
  readonly descriptor: string;
  /** Extent file name inside the VM folder ("web-flat.vmdk", "web-000001-delta.vmdk"). */
  readonly extent: string;
  readonly layer: Layer;
  readonly cid: string;
  /** Snapshot whose creation started this redo log (undefined for the base disk, or once orphaned). */
  createdBy: number | undefined;
}

function cid(): string {
  return randomBytes(4).toString("hex");
}

export interface SimDiskOptions {
  readonly key: number;
  readonly unitNumber: number;
  readonly capacity: number;
  readonly datastore: string;
  /** Absolute path of the VM folder on the datastore. */
  readonly vmDirPath: string;
  /** Path of the VM folder relative to the datastore root. */
  readonly vmDir: string;
  readonly baseName: string;
  readonly thin: boolean;
  readonly cbtBlockSize: number;
}

export class SimDisk {
  readonly key: number;
  readonly unitNumber: number;
  readonly capacity: number;
  readonly datastore: string;
  readonly thin: boolean;
  readonly uuid: string;
  readonly chain: ChainLink[] = [];
  readonly allocation: AllocationMap;
  tracker: ChangeTracker | undefined;
  /** CBT enabled while the VM ran: tracking starts at the next stun (power on, snapshot). */
  ctkPending = false;
  #nextDelta = 1;
  readonly #o: SimDiskOptions;

  constructor(o: SimDiskOptions) {
    this.#o = o;
    this.key = o.key;
    this.unitNumber = o.unitNumber;
    this.capacity = o.capacity;
    this.datastore = o.datastore;
    this.thin = o.thin;
    this.uuid = [...randomBytes(16)]
      .map((b) => b.toString(16).padStart(2, "0"))
      .join(" ")
      .replace(/^(.{23}) /, "$1-");
    this.allocation = new AllocationMap(o.capacity, o.cbtBlockSize);
    const extent = `${o.baseName}-flat.vmdk`;
    const layer = new FlatLayer(join(o.vmDirPath, extent), o.capacity / SECTOR, true);
    this.chain.push({ descriptor: `${o.baseName}.vmdk`, extent, layer, cid: cid(), createdBy: undefined });
    this.#writeDescriptors();
  }

  get top(): ChainLink {
    return this.chain[this.chain.length - 1]!;
  }

  /** `[ds] vm/file.vmdk` of a chain link. */
  datastorePath(link: ChainLink): string {
    return `[${this.datastore}] ${this.#o.vmDir}/${link.descriptor}`;
  }

  /** Relative path (from the datastore root) of a file in the VM folder. */
  relative(file: string): string {
    return `${this.#o.vmDir}/${file}`;
  }

  /** A guest write to the running disk (the top of the chain). Offset and length are sector-aligned. */
  write(offset: number, data: Buffer): void {
    this.top.layer.writeSectors(offset / SECTOR, data);
    this.allocation.mark(offset, data.length);
    this.tracker?.markWrite(offset, data.length);
  }

  /** Reads the disk as seen through `chain[0..head]`. */
  read(offset: number, length: number, head = this.chain.length - 1): Buffer {
    const out = Buffer.alloc(length);
    const first = offset / SECTOR;
    const count = length / SECTOR;
    let i = 0;
    while (i < count) {
      const s = first + i;
      let h = head;
      while (h > 0 && !this.chain[h]!.layer.has(s)) h--;
      let run = 1;
      while (i + run < count && this.#source(first + i + run, head) === h) run++;
      this.chain[h]!.layer.readSectors(s, run, out, i * SECTOR);
      i += run;
    }
    return out;
  }

  #source(sector: number, head: number): number {
    let h = head;
    while (h > 0 && !this.chain[h]!.layer.has(sector)) h--;
    return h;
  }

  /** A snapshot: the current top becomes read-only, writes go to a new redo log. */
  addDelta(snapshotId: number): void {
    const n = String(this.#nextDelta++).padStart(6, "0");
    const descriptor = `${this.#o.baseName}-${n}.vmdk`;
    const extent = `${this.#o.baseName}-${n}-delta.vmdk`;
    const layer = new CowdLayer(join(this.#o.vmDirPath, extent), this.capacity / SECTOR);
    this.chain.push({ descriptor, extent, layer, cid: cid(), createdBy: snapshotId });
    this.#writeDescriptors();
  }

  /** Merges redo log `index` into its parent and deletes its files (snapshot delete/consolidate). */
  mergeDown(index: number): void {
    const link = this.chain[index];
    const parent = this.chain[index - 1];
    if (!link || !parent) throw new Error(`disk ${this.key}: no chain link ${index} to merge`);
    for (const [first, count] of link.layer.presentRuns()) {
      const buf = Buffer.alloc(count * SECTOR);
      link.layer.readSectors(first, count, buf, 0);
      parent.layer.writeSectors(first, buf);
    }
    link.layer.close();
    this.chain.splice(index, 1);
    rmSync(join(this.#o.vmDirPath, link.extent), { force: true });
    rmSync(join(this.#o.vmDirPath, link.descriptor), { force: true });
    this.#writeDescriptors();
  }

  close(): void {
    for (const link of this.chain) link.layer.close();
  }

  #writeDescriptors(): void {
    const sectors = this.capacity / SECTOR;
    this.chain.forEach((link, i) => {
      const parent = this.chain[i - 1];
      const lines = [
        "# Disk DescriptorFile",
        "version=1",
        'encoding="UTF-8"',
        `CID=${link.cid}`,
        `parentCID=${parent ? parent.cid : "ffffffff"}`,
        'isNativeSnapshot="no"',
        `createType="${parent ? "vmfsSparse" : "vmfs"}"`,
        ...(parent ? [`parentFileNameHint="${parent.descriptor}"`] : []),
        "",
        "# Extent description",
        `RW ${sectors} ${parent ? "VMFSSPARSE" : "VMFS"} "${link.extent}"`,
        "",
        "# The Disk Data Base",
        "#DDB",
        "",
        ...(parent
          ? [`ddb.longContentID = "${link.cid}${cid()}${cid()}${cid()}"`]
          : [
              'ddb.adapterType = "lsilogic"',
              `ddb.geometry.cylinders = "${Math.max(1, Math.floor(sectors / (255 * 63)))}"`,
              'ddb.geometry.heads = "255"',
              'ddb.geometry.sectors = "63"',
              `ddb.longContentID = "${link.cid}${cid()}${cid()}${cid()}"`,
              `ddb.thinProvisioned = "${this.thin ? 1 : 0}"`,
              `ddb.uuid = "${this.uuid}"`,
              'ddb.virtualHWVersion = "14"',
            ]),
        "",
      ];
      writeFileSync(join(this.#o.vmDirPath, link.descriptor), lines.join("\n"));
    });
  }

  /** Starts (or restarts) change tracking: a new tracking uuid. */
  activateTracking(blockSize: number): void {
    this.tracker = new ChangeTracker(this.capacity, blockSize);
    this.ctkPending = false;
  }
}
