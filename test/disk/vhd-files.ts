/**
 * Test-only encoder of a differencing VHD (qemu cannot make one): footer copies, dynamic header with
 * the parent's unique id and a relative W2ru locator, BAT, and blocks whose MSB-first sector bitmaps
 * mark the sectors the child holds.
 */
import { vhdChecksum } from "../../src/disk/vhd/format.js";

const BLOCK = 2 * 1024 * 1024;

/** `sectors` maps a sector number to its 512 bytes. */
export function buildDifferencingVhd(
  size: number,
  parentFooter: Uint8Array,
  parentRelativePath: string,
  sectors: ReadonlyMap<number, Uint8Array>,
): Buffer {
  const blocks = Math.ceil(size / BLOCK);
  const batBytes = Math.ceil((blocks * 4) / 512) * 512;
  const locator = Buffer.from(parentRelativePath, "utf16le");
  const locatorBytes = Math.ceil(locator.length / 512) * 512;
  const used = [...new Set([...sectors.keys()].map((s) => Math.floor((s * 512) / BLOCK)))].sort(
    (a, b) => b - a,
  );
  const blockStart = 1536 + batBytes + locatorBytes;
  const blockBytes = 512 + BLOCK;
  const out = Buffer.alloc(blockStart + used.length * blockBytes + 512);

  const footer = Buffer.alloc(512);
  footer.write("conectix", 0, "latin1");
  footer.writeUInt32BE(2, 8);
  footer.writeUInt32BE(0x00010000, 12);
  footer.writeBigUInt64BE(512n, 16);
  footer.write("win ", 28, "latin1");
  footer.write("Wi2k", 36, "latin1");
  footer.writeBigUInt64BE(BigInt(size), 40);
  footer.writeBigUInt64BE(BigInt(size), 48);
  footer.writeUInt32BE(0xffff10ff, 56);
  footer.writeUInt32BE(4, 60);
  footer.fill(0x5c, 68, 84);
  footer.writeUInt32BE(vhdChecksum(footer, 64), 64);
  footer.copy(out, 0);
  footer.copy(out, out.length - 512);

  const header = out.subarray(512, 1536);
  header.write("cxsparse", 0, "latin1");
  header.writeBigUInt64BE(0xffffffffffffffffn, 8);
  header.writeBigUInt64BE(1536n, 16);
  header.writeUInt32BE(0x00010000, 24);
  header.writeUInt32BE(blocks, 28);
  header.writeUInt32BE(BLOCK, 32);
  Buffer.from(parentFooter.subarray(68, 84)).copy(header, 40);
  Buffer.from(parentRelativePath.split("\\").pop() ?? "", "utf16le")
    .swap16()
    .copy(header, 64);
  header.write("W2ru", 576, "latin1");
  header.writeUInt32BE(locatorBytes / 512, 580);
  header.writeUInt32BE(locator.length, 584);
  header.writeBigUInt64BE(BigInt(1536 + batBytes), 592);
  header.writeUInt32BE(vhdChecksum(header, 36), 36);

  locator.copy(out, 1536 + batBytes);
  out.fill(0xff, 1536, 1536 + blocks * 4);
  // Blocks stored in reverse disk order.
  used.forEach((block, i) => {
    const at = blockStart + i * blockBytes;
    out.writeUInt32BE(at / 512, 1536 + block * 4);
    for (const [sector, data] of sectors) {
      if (Math.floor((sector * 512) / BLOCK) !== block) continue;
      const inBlock = sector - (block * BLOCK) / 512;
      out[at + (inBlock >> 3)] = (out[at + (inBlock >> 3)] ?? 0) | (0x80 >> (inBlock & 7));
      out.set(data, at + 512 + inBlock * 512);
    }
  });
  return out;
}
