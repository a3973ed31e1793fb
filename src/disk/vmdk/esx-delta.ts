/**
 * ESXi snapshot redo logs: VMFSsparse (`-delta.vmdk`, "COWD") and SEsparse (`-sesparse.vmdk`).
 * Both map grains to "not here, read the parent", "zero" or "data"; the layouts follow VMware's
 * files as qemu and Xen Orchestra read them (SEsparse is undocumented: checks are strict).
 */
import type { ByteSource } from "../../domain/ports.js";
import { ascii, u32, u64big } from "../bytes.js";
import { diskError } from "../errors.js";
import { readRanges } from "../read-ranges.js";
import { GRAIN_PARENT, GRAIN_ZERO, GrainExtent, type GrainLocation } from "./grain-extent.js";
import { SECTOR } from "./sparse-header.js";

const COWD_GTES = 4096;

function invalid(path: string, message: string, details: Record<string, unknown> = {}): Error {
  return diskError("VMDK_SPARSE_INVALID", `Invalid ESXi delta "${path}": ${message}`, { path, ...details });
}

/** Grain tables loaded on demand and cached, one directory entry at a time. */
class TableCache<T> {
  readonly #tables = new Map<number, T>();
  has(index: number): boolean {
    return this.#tables.has(index);
  }
  set(index: number, table: T): void {
    this.#tables.set(index, table);
  }
  async get(index: number, load: () => Promise<T>): Promise<T> {
    const cached = this.#tables.get(index);
    if (cached !== undefined) return cached;
    const table = await load();
    this.#tables.set(index, table);
    return table;
  }
}

/** VMFSsparse: u32 grain directory at `gdOffset` sectors, tables of 4096 u32 sector offsets. */
export class CowdExtent extends GrainExtent {
  readonly #gd: Uint32Array;
  readonly #tables = new TableCache<Uint32Array>();

  private constructor(
    source: ByteSource,
    path: string,
    capacity: number,
    grainSectors: number,
    gd: Uint32Array,
  ) {
    super(source, path, capacity, grainSectors * SECTOR);
    this.#gd = gd;
  }

  static async open(source: ByteSource, path: string, signal?: AbortSignal): Promise<CowdExtent> {
    const head = await source.read(0, SECTOR, signal);
    if (head.length < 28 || ascii(head, 0, 4) !== "COWD") throw invalid(path, "no COWD magic");
    const version = u32(head, 4);
    const sectors = u32(head, 12);
    const grainSectors = u32(head, 16);
    const gdOffset = u32(head, 20);
    const gdEntries = u32(head, 24);
    if (version !== 1) throw invalid(path, `version ${version}, expected 1`, { version });
    if (grainSectors < 1 || grainSectors > 128 || (grainSectors & (grainSectors - 1)) !== 0) {
      throw invalid(path, `grain size ${grainSectors} sectors`, { grainSectors });
    }
    const needed = Math.ceil(sectors / grainSectors / COWD_GTES);
    if (gdEntries < needed || gdEntries > needed + 1024)
      throw invalid(path, `${gdEntries} directory entries for ${sectors} sectors`);
    const bytes = await source.read(gdOffset * SECTOR, gdEntries * 4, signal);
    if (bytes.length < gdEntries * 4) throw invalid(path, "grain directory runs past the file end");
    const gd = new Uint32Array(needed);
    for (let i = 0; i < needed; i++) {
      const gt = u32(bytes, i * 4);
      if (gt !== 0 && (gt < 1 || gt * SECTOR + COWD_GTES * 4 > source.size))
        throw invalid(path, `directory entry ${i} points at sector ${gt}, outside the file`);
      gd[i] = gt;
    }
    return new CowdExtent(source, path, sectors * SECTOR, grainSectors, gd);
  }

  protected override async preloadTables(signal?: AbortSignal): Promise<void> {
    const wanted = [...this.#gd.entries()].filter(([i, s]) => s !== 0 && !this.#tables.has(i));
    const got = await readRanges(
      this.source,
      wanted.map(([, s]) => ({ offset: s * SECTOR, length: COWD_GTES * 4 })),
      { signal },
    );
    for (const [i, s] of wanted) {
      const bytes = got.get(s * SECTOR) as Uint8Array;
      this.#tables.set(
        i,
        Uint32Array.from({ length: COWD_GTES }, (_, k) =>
          k * 4 + 4 <= bytes.length ? u32(bytes, k * 4) : 0,
        ),
      );
    }
  }

  async locate(grain: number, signal?: AbortSignal): Promise<GrainLocation> {
    const index = Math.floor(grain / COWD_GTES);
    const sector = this.#gd[index] ?? 0;
    if (sector === 0) return GRAIN_PARENT;
    const table = await this.#tables.get(index, async () => {
      const bytes = await this.source.read(sector * SECTOR, COWD_GTES * 4, signal);
      return Uint32Array.from({ length: COWD_GTES }, (_, i) => u32(bytes, i * 4));
    });
    const entry = table[grain % COWD_GTES] ?? 0;
    if (entry === 0) return GRAIN_PARENT;
    // Sector 1 lies inside the header: ESXi uses it to mark a grain emptied to zeros.
    if (entry === 1) return GRAIN_ZERO;
    return { kind: "data", offset: entry * SECTOR };
  }
}

const SE_CONST_MAGIC = 0xcafebaben;
const SE_VOLATILE_MAGIC = 0xcafecafen;
const SE_VERSION = 0x200000001n;
const SE_GTES = 4096;

/**
 * SEsparse: u64 words. Directory entries `0x1000_0000 << 32 | table index`; table entries tagged by
 * their top nibble: 0 parent, 1 unmapped, 2 zero, 3 allocated (grain index stored swizzled).
 */
export class SeSparseExtent extends GrainExtent {
  readonly #gd: BigUint64Array;
  readonly #tablesOffset: number;
  readonly #grainsOffset: number;
  readonly #tables = new TableCache<BigUint64Array>();

  private constructor(
    source: ByteSource,
    path: string,
    capacity: number,
    grainSectors: number,
    gd: BigUint64Array,
    tablesOffset: number,
    grainsOffset: number,
  ) {
    super(source, path, capacity, grainSectors * SECTOR);
    this.#gd = gd;
    this.#tablesOffset = tablesOffset;
    this.#grainsOffset = grainsOffset;
  }

  static async open(source: ByteSource, path: string, signal?: AbortSignal): Promise<SeSparseExtent> {
    const head = await source.read(0, SECTOR, signal);
    if (head.length < SECTOR) throw invalid(path, "header truncated");
    const word = (i: number): bigint => u64big(head, i * 8);
    const num = (i: number, name: string): number => {
      const v = word(i);
      if (v > BigInt(Number.MAX_SAFE_INTEGER) / 512n) throw invalid(path, `${name} ${v} too large`);
      return Number(v);
    };
    if (word(0) !== SE_CONST_MAGIC) throw invalid(path, "no SEsparse magic");
    if (word(1) !== SE_VERSION)
      throw invalid(path, `version 0x${word(1).toString(16)}, expected 0x200000001`);
    const capacity = num(2, "capacity");
    const grainSectors = num(3, "grain size");
    if (grainSectors !== 8) throw invalid(path, `grain size ${grainSectors} sectors, expected 8`);
    if (word(4) !== 64n) throw invalid(path, `grain table size ${word(4)} sectors, expected 64`);
    if (word(5) !== 0n) throw invalid(path, `flags 0x${word(5).toString(16)} not supported`);
    const volatile = await source.read(num(10, "volatile header offset") * SECTOR, SECTOR, signal);
    if (volatile.length < 32 || u64big(volatile, 0) !== SE_VOLATILE_MAGIC)
      throw invalid(path, "volatile header missing");
    if (u64big(volatile, 24) !== 0n) {
      throw invalid(path, "its journal must be replayed (the delta was not closed cleanly)");
    }
    const gdOffset = num(16, "grain directory offset");
    const gdSectors = num(17, "grain directory size");
    const needed = Math.ceil(capacity / grainSectors / SE_GTES);
    if (gdSectors * (SECTOR / 8) < needed || gdSectors > 1024 * 1024)
      throw invalid(path, `grain directory of ${gdSectors} sectors for ${capacity} sectors`);
    const bytes = await source.read(gdOffset * SECTOR, needed * 8, signal);
    if (bytes.length < needed * 8) throw invalid(path, "grain directory runs past the file end");
    const gd = BigUint64Array.from({ length: needed }, (_, i) => u64big(bytes, i * 8));
    return new SeSparseExtent(
      source,
      path,
      capacity * SECTOR,
      grainSectors,
      gd,
      num(18, "grain tables offset") * SECTOR,
      num(24, "grains offset") * SECTOR,
    );
  }

  #tableOffset(index: number): number | undefined {
    const dir = this.#gd[index] ?? 0n;
    if (dir === 0n) return undefined;
    if (dir >> 32n !== 0x10000000n)
      throw invalid(this.path, `directory entry ${index} is 0x${dir.toString(16)}`);
    return this.#tablesOffset + Number(dir & 0xffffffffn) * SE_GTES * 8;
  }

  protected override async preloadTables(signal?: AbortSignal): Promise<void> {
    const wanted: [number, number][] = [];
    for (let i = 0; i < this.#gd.length; i++) {
      const at = this.#tableOffset(i);
      if (at !== undefined && !this.#tables.has(i)) wanted.push([i, at]);
    }
    const got = await readRanges(
      this.source,
      wanted.map(([, at]) => ({ offset: at, length: SE_GTES * 8 })),
      { signal },
    );
    for (const [i, at] of wanted) {
      const bytes = got.get(at) as Uint8Array;
      if (bytes.length < SE_GTES * 8) throw invalid(this.path, `grain table ${i} runs past the file end`);
      this.#tables.set(
        i,
        BigUint64Array.from({ length: SE_GTES }, (_, k) => u64big(bytes, k * 8)),
      );
    }
  }

  async locate(grain: number, signal?: AbortSignal): Promise<GrainLocation> {
    const index = Math.floor(grain / SE_GTES);
    const dir = this.#gd[index] ?? 0n;
    if (dir === 0n) return GRAIN_PARENT;
    if (dir >> 32n !== 0x10000000n)
      throw invalid(this.path, `directory entry ${index} is 0x${dir.toString(16)}`);
    const tableAt = this.#tablesOffset + Number(dir & 0xffffffffn) * SE_GTES * 8;
    const table = await this.#tables.get(index, async () => {
      const bytes = await this.source.read(tableAt, SE_GTES * 8, signal);
      if (bytes.length < SE_GTES * 8) throw invalid(this.path, `grain table ${index} runs past the file end`);
      return BigUint64Array.from({ length: SE_GTES }, (_, i) => u64big(bytes, i * 8));
    });
    const entry = table[grain % SE_GTES] ?? 0n;
    switch (entry >> 60n) {
      case 0n:
        if (entry !== 0n) break;
        return GRAIN_PARENT;
      case 1n: // unmapped by the guest
      case 2n:
        return GRAIN_ZERO;
      case 3n: {
        const low = entry & 0x0fffffffffffffffn;
        const grainIndex = (low >> 48n) | ((low & 0xffffffffffffn) << 12n);
        const offset = this.#grainsOffset + Number(grainIndex) * this.grainBytes;
        if (!Number.isSafeInteger(offset)) break;
        return { kind: "data", offset };
      }
    }
    throw invalid(this.path, `grain table entry of grain ${grain} is 0x${entry.toString(16)}`);
  }
}
