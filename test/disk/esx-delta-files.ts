/**
 * Test-only encoders of ESXi redo logs (VMFSsparse "COWD" and SEsparse), laid out the way ESXi writes
 * them, so the readers can be checked against qemu's independent implementation.
 */

const SECTOR = 512;

/** COWD with 1-sector grains: `grains` maps a sector number to its 512 bytes; `zeroed` get entry 1. */
export function buildCowd(
  sectors: number,
  grains: ReadonlyMap<number, Uint8Array>,
  zeroed: readonly number[] = [],
): Buffer {
  const gtes = 4096;
  const gdEntries = Math.ceil(sectors / gtes);
  const gdSectors = Math.ceil((gdEntries * 4) / SECTOR);
  const used = [...new Set([...grains.keys(), ...zeroed].map((g) => Math.floor(g / gtes)))].sort(
    (a, b) => a - b,
  );
  const gtStart = 4 + gdSectors;
  const grainStart = gtStart + used.length * ((gtes * 4) / SECTOR);
  const out = Buffer.alloc((grainStart + grains.size) * SECTOR);
  out.write("COWD", 0, "latin1");
  out.writeUInt32LE(1, 4);
  out.writeUInt32LE(3, 8);
  out.writeUInt32LE(sectors, 12);
  out.writeUInt32LE(1, 16);
  out.writeUInt32LE(4, 20);
  out.writeUInt32LE(gdEntries, 24);
  out.writeUInt32LE(grainStart + grains.size, 28);
  used.forEach((dir, i) => out.writeUInt32LE(gtStart + i * ((gtes * 4) / SECTOR), 4 * SECTOR + dir * 4));
  const entry = (g: number, value: number): void => {
    const table = gtStart + used.indexOf(Math.floor(g / gtes)) * ((gtes * 4) / SECTOR);
    out.writeUInt32LE(value, table * SECTOR + (g % gtes) * 4);
  };
  // Grains are stored in reverse order: the file order need not follow the disk order.
  [...grains.keys()]
    .sort((a, b) => b - a)
    .forEach((g, i) => {
      entry(g, grainStart + i);
      out.set(grains.get(g) as Uint8Array, (grainStart + i) * SECTOR);
    });
  for (const g of zeroed) entry(g, 1);
  return out;
}

/**
 * SEsparse with 4 KiB grains: `grains` maps a grain number to 4096 bytes, `zero` and `unmapped` get
 * tags 2 and 1. Grain slots and grain tables are used out of order, with gaps, as ESXi does.
 */
export function buildSeSparse(
  sectors: number,
  grains: ReadonlyMap<number, Uint8Array>,
  zero: readonly number[] = [],
  unmapped: readonly number[] = [],
): Buffer {
  const gtes = 4096;
  const grainBytes = 4096;
  const gdEntries = Math.ceil(sectors / 8 / gtes);
  const gdSectors = Math.max(1, Math.ceil((gdEntries * 8) / SECTOR));
  const dirs = [...new Set([...grains.keys(), ...zero, ...unmapped].map((g) => Math.floor(g / gtes)))].sort(
    (a, b) => a - b,
  );
  const tableSectors = (gtes * 8) / SECTOR;
  const gdOffset = 8;
  const tablesOffset = gdOffset + gdSectors;
  const tableCount = dirs.length + 2; // spare tables, as ESXi pre-allocates them
  const grainsOffset = tablesOffset + tableCount * tableSectors;
  const slot = (i: number): number => 4096 + 3 + i * 4099; // above 4096: exercises both swizzle halves
  const lastSlot = grains.size === 0 ? 0 : slot(grains.size - 1) + 1;
  const out = Buffer.alloc(grainsOffset * SECTOR + lastSlot * grainBytes);
  const word = (sector: number, i: number, v: bigint): void =>
    void out.writeBigUInt64LE(v, sector * SECTOR + i * 8);
  [0xcafebaben, 0x200000001n, BigInt(sectors), 8n, 64n, 0n, 0n, 0n, 0n, 0n].forEach((v, i) => word(0, i, v));
  [
    1n,
    1n,
    2n,
    1n,
    3n,
    5n,
    BigInt(gdOffset),
    BigInt(gdSectors),
    BigInt(tablesOffset),
    BigInt(tableCount * tableSectors),
  ].forEach((v, i) => word(0, 10 + i, v));
  word(0, 24, BigInt(grainsOffset));
  word(0, 25, BigInt(lastSlot * 8));
  word(1, 0, 0xcafecafen);
  // Tables in reverse order of their directory entries.
  dirs.forEach((d, i) => word(gdOffset, d, (0x10000000n << 32n) | BigInt(dirs.length - 1 - i)));
  const entry = (g: number, v: bigint): void => {
    const table = dirs.length - 1 - dirs.indexOf(Math.floor(g / gtes));
    word(tablesOffset + table * tableSectors, g % gtes, v);
  };
  [...grains.keys()].forEach((g, i) => {
    const index = BigInt(slot(i));
    entry(g, (3n << 60n) | ((index & 0xfffn) << 48n) | (index >> 12n));
    out.set(grains.get(g) as Uint8Array, (grainsOffset + slot(i) * 8) * SECTOR);
  });
  for (const g of zero) entry(g, 2n << 60n);
  for (const g of unmapped) entry(g, 1n << 60n);
  return out;
}
