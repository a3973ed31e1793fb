/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as VHDX uses for headers and tables. */

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32c(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = (TABLE[(c ^ (bytes[i] ?? 0)) & 0xff] ?? 0) ^ (c >>> 8);
  return ~c >>> 0;
}

/** CRC-32C of `bytes` with the 4-byte checksum field at `checksumOffset` taken as zero. */
export function crc32cWithZeroedField(bytes: Uint8Array, checksumOffset: number): number {
  const copy = Uint8Array.from(bytes);
  copy.fill(0, checksumOffset, checksumOffset + 4);
  return crc32c(copy);
}
