import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { guidAt, isAllZero, putGuid, u64 } from "../../src/disk/bytes.js";
import { crc32c } from "../../src/disk/crc32c.js";
import { isSnapvisorError } from "../../src/domain/errors.js";
import {
  batGeometry,
  bitmapIndex,
  decodeBatEntry,
  encodeBatEntry,
  payloadIndex,
} from "../../src/disk/vhdx/bat.js";
import { decodeHeader, encodeHeader, selectHeader, type VhdxHeader } from "../../src/disk/vhdx/header.js";
import { decodeParentLocator, encodeParentLocator } from "../../src/disk/vhdx/parent-locator.js";
import { parseDescriptor, formatDescriptor } from "../../src/disk/vmdk/descriptor.js";
import { decodeSparseHeader, encodeSparseHeader } from "../../src/disk/vmdk/sparse-header.js";
import { detectImageFormat } from "../../src/disk/open-image.js";
import { resolveSibling } from "../../src/disk/vmdk/open.js";
import { readRanges } from "../../src/disk/read-ranges.js";

const MiB = 1024 * 1024;

describe("disk codecs", () => {
  it("crc32c() matches the Castagnoli check value of '123456789'", () => {
    assert.equal(crc32c(Buffer.from("123456789")), 0xe3069283);
  });

  it("GUIDs round-trip through the Microsoft mixed-endian layout", () => {
    const bytes = new Uint8Array(16);
    putGuid(bytes, 0, "{2dc27766-f623-4200-9d64-115e9bfd4a08}");
    assert.deepEqual([...bytes.subarray(0, 4)], [0x66, 0x77, 0xc2, 0x2d]);
    assert.equal(guidAt(bytes, 0), "2DC27766-F623-4200-9D64-115E9BFD4A08");
  });

  it("u64() refuses values that would lose precision as numbers", () => {
    const bytes = Buffer.alloc(8);
    bytes.writeBigUInt64LE(2n ** 53n + 1n);
    assert.throws(
      () => u64(bytes, 0, "VHDX_BAT_INVALID", "x"),
      (e) => isSnapvisorError(e, "VHDX_BAT_INVALID"),
    );
    bytes.writeBigUInt64LE(2n ** 53n - 1n);
    assert.equal(u64(bytes, 0, "VHDX_BAT_INVALID", "x"), Number.MAX_SAFE_INTEGER);
  });

  it("isAllZero() sees a single set byte at any position and alignment", () => {
    const buf = new Uint8Array(1000);
    assert.equal(isAllZero(buf), true);
    assert.equal(isAllZero(buf.subarray(3)), true);
    buf[999] = 1;
    assert.equal(isAllZero(buf), false);
    assert.equal(isAllZero(buf.subarray(1)), false);
  });

  const header: VhdxHeader = {
    sequenceNumber: 7n,
    fileWriteGuid: "11111111-2222-3333-4444-555555555555",
    dataWriteGuid: "66666666-7777-8888-9999-AAAAAAAAAAAA",
    logGuid: "00000000-0000-0000-0000-000000000000",
    logVersion: 0,
    version: 1,
    logLength: MiB,
    logOffset: MiB,
  };

  it("VHDX headers round-trip and the higher valid sequence number wins", () => {
    const a = encodeHeader(header);
    const b = encodeHeader({
      ...header,
      sequenceNumber: 8n,
      dataWriteGuid: "66666666-7777-8888-9999-BBBBBBBBBBBB",
    });
    assert.deepEqual(decodeHeader(a), header);
    assert.equal(selectHeader(a, b, "x").sequenceNumber, 8n);
    assert.equal(selectHeader(b, a, "x").sequenceNumber, 8n);
    const broken = Uint8Array.from(b);
    broken[200] = 1;
    assert.match((decodeHeader(broken) as { invalid: string }).invalid, /CRC-32C mismatch/);
    assert.equal(selectHeader(a, broken, "x").sequenceNumber, 7n);
  });

  it("VHDX headers with equal sequence numbers but different contents are refused", () => {
    const a = encodeHeader(header);
    const b = encodeHeader({ ...header, fileWriteGuid: "11111111-2222-3333-4444-666666666666" });
    assert.throws(
      () => selectHeader(a, b, "x"),
      (e) => isSnapvisorError(e, "VHDX_HEADER_INVALID"),
    );
    assert.equal(selectHeader(a, a, "x").sequenceNumber, 7n);
  });

  it("BAT geometry interleaves one sector-bitmap entry after every chunk of payload entries", () => {
    const cases = [
      // size, block, sector, parent -> chunkRatio, dataBlocks, totalEntries
      [10 * MiB, 32 * MiB, 512, false, 128, 1, 1],
      [127 * 32 * MiB + 1, 32 * MiB, 512, false, 128, 128, 128],
      [129 * 32 * MiB, 32 * MiB, 512, false, 128, 129, 130],
      [129 * 32 * MiB, 32 * MiB, 512, true, 128, 129, 258],
      [4 * MiB, MiB, 4096, false, 32768, 4, 4],
      [8 * MiB, 256 * MiB, 512, false, 16, 1, 1],
    ] as const;
    for (const [size, block, sector, parent, ratio, blocks, total] of cases) {
      const g = batGeometry(size, block, sector, parent);
      assert.deepEqual(
        [g.chunkRatio, g.dataBlocks, g.totalEntries],
        [ratio, blocks, total],
        `${size}/${block}/${sector}/${parent}`,
      );
    }
    const g = batGeometry(129 * 32 * MiB, 32 * MiB, 512, true);
    assert.equal(payloadIndex(g, 127), 127);
    assert.equal(bitmapIndex(g, 0), 128);
    assert.equal(payloadIndex(g, 128), 129);
  });

  it("BAT entries keep the state in 3 bits and the offset in MiB above bit 20", () => {
    const bytes = Buffer.alloc(8);
    const raw = encodeBatEntry({ state: 6, fileOffset: 5 * 1024 * 1024 * MiB });
    bytes.writeBigUInt64LE(raw);
    assert.equal(raw, ((5n * 1024n * 1024n) << 20n) | 6n);
    assert.deepEqual(decodeBatEntry(bytes, 0), { state: 6, fileOffset: 5 * 1024 * 1024 * MiB });
  });

  it("parent locators round-trip their UTF-16 keys and values", () => {
    const entries = new Map([
      ["parent_linkage", "{83a4b0e2-0000-4000-8000-000000000001}"],
      ["relative_path", ".\\Virtual Hard Disks\\dïsk.vhdx"],
    ]);
    assert.deepEqual(decodeParentLocator(encodeParentLocator(entries), "x").entries, entries);
  });

  it("parseDescriptor() reads ESXi and hosted descriptors", () => {
    const esxi = parseDescriptor(
      Buffer.from(
        '# Disk DescriptorFile\nversion=1\nencoding="UTF-8"\nCID=d7980f7a\nparentCID=ffffffff\nisNativeSnapshot="no"\ncreateType="vmfs"\n\n# Extent description\nRW 67108864 VMFS "disk-flat.vmdk"\n\nddb.adapterType = "lsilogic"\nddb.thinProvisioned = "1"\n',
      ),
      "esxi.vmdk",
    );
    assert.equal(esxi.createType, "vmfs");
    assert.equal(esxi.capacity, 67108864 * 512);
    assert.deepEqual(esxi.extents, [
      { access: "RW", sectors: 67108864, type: "VMFS", file: "disk-flat.vmdk", offset: 0 },
    ]);
    assert.equal(esxi.entries.get("ddb.thinProvisioned"), "1");
    const child = parseDescriptor(
      Buffer.from(
        '# Disk DescriptorFile\r\nCID=aaaaaaaa\r\nparentCID=d7980f7a\r\nparentFileNameHint="disk.vmdk"\r\ncreateType="vmfsSparse"\r\nRW 67108864 VMFSSPARSE "disk-000001-delta.vmdk"\r\n',
      ),
      "child.vmdk",
    );
    assert.equal(child.parentCid, "d7980f7a");
    assert.equal(child.parentFileNameHint, "disk.vmdk");
    const round = parseDescriptor(
      Buffer.from(
        formatDescriptor({
          createType: "monolithicFlat",
          extents: [{ access: "RW", sectors: 8, type: "FLAT", file: "a-flat.vmdk", offset: 0 }],
        }),
      ),
      "a.vmdk",
    );
    assert.equal(round.capacity, 4096);
  });

  it("parseDescriptor() ends the text at the first NUL, ignoring stale bytes after it", () => {
    const text =
      '# Disk DescriptorFile\nCID=abc\nparentCID=ffffffff\ncreateType="monolithicSparse"\nRW 8 SPARSE "a.vmdk"\n';
    const area = Buffer.alloc(1024);
    area.write(
      text + "\0" + 'ntCID=ffffffff\ncreateType="monolithicSparse"\nRW 8 SPARSE "a.vmdk"\n',
      "latin1",
    );
    const d = parseDescriptor(area, "a.vmdk");
    assert.equal(d.cid, "abc");
    assert.equal(d.extents.length, 1);
  });

  it("parseDescriptor() refuses garbled descriptors with VMDK_DESCRIPTOR_INVALID", () => {
    const bad = [
      '# Disk DescriptorFile\ncreateType="vmfs"\n',
      '# Disk DescriptorFile\nRW 10 VMFS "a"\n',
      '# Disk DescriptorFile\ncreateType="vmfs"\nCID=nothex!\nRW 10 VMFS "a"\n',
      '# Disk DescriptorFile\ncreateType="vmfs"\nRW 10 VMFS\n',
      '# Disk DescriptorFile\ncreateType="vmfs"\nRW 10 VMFS "a"\n\u0007\n',
      '# Disk DescriptorFile\ncreateType="vmfs"\nversion=9\nRW 10 VMFS "a"\n',
    ];
    for (const text of bad) {
      assert.throws(
        () => parseDescriptor(Buffer.from(text), "x.vmdk"),
        (e) => isSnapvisorError(e, "VMDK_DESCRIPTOR_INVALID"),
        JSON.stringify(text),
      );
    }
  });

  it("resolveSibling() keeps extent names inside the descriptor's directory", () => {
    assert.equal(resolveSibling("/ds/vm/disk.vmdk", "disk-flat.vmdk", "Extent"), "/ds/vm/disk-flat.vmdk");
    assert.equal(
      resolveSibling("/ds/vm/disk.vmdk", "sub/disk-s001.vmdk", "Extent"),
      "/ds/vm/sub/disk-s001.vmdk",
    );
    for (const name of ["../x", "a/../../x", "/etc/passwd", "C:x", "a\\..\\b", "", "http://x/y"]) {
      assert.throws(
        () => resolveSibling("/ds/vm/disk.vmdk", name, "Extent"),
        (e) => isSnapvisorError(e, "VMDK_EXTENT_INVALID"),
        name,
      );
    }
  });

  it("sparse VMDK headers round-trip, and text-mode damage is detected", () => {
    const h = {
      version: 1,
      flags: 3,
      capacity: 2 ** 40,
      grainSize: 128,
      descriptorOffset: 1,
      descriptorSize: 20,
      numGTEsPerGT: 512,
      rgdOffset: 21,
      gdOffset: 2 ** 33,
      overHead: 128,
      uncleanShutdown: false,
      compressAlgorithm: 0,
    };
    const bytes = encodeSparseHeader(h);
    assert.deepEqual(decodeSparseHeader(bytes, "x"), h);
    bytes[75] = 0x0a; // "\r\n" turned into "\n\n"
    assert.throws(
      () => decodeSparseHeader(bytes, "x"),
      (e) => isSnapvisorError(e, "VMDK_SPARSE_INVALID"),
    );
  });

  it("detectImageFormat() reads signatures and falls back to raw", () => {
    const of = (text: string): ReturnType<typeof detectImageFormat> =>
      detectImageFormat(Buffer.from(text.padEnd(512, "\0"), "latin1"));
    assert.equal(of("vhdxfile"), "vhdx");
    assert.equal(of("KDMV"), "vmdk");
    assert.equal(of("# Disk DescriptorFile\n"), "vmdk");
    assert.equal(of("\0\0\0\0garbage"), "raw");
    assert.match((of("QFI\xfb") as { unsupported: string }).unsupported, /qcow2/);
    assert.equal(of("conectix"), "vhd");
    assert.match((of("COWD") as { unsupported: string }).unsupported, /delta/);
    assert.match((of("vhdxset\0") as { unsupported: string }).unsupported, /VHD Set/);
  });
});

describe("readRanges()", () => {
  it("fetches nearby ranges in one read and far ones apart, returning each range's bytes", async () => {
    const data = Buffer.from(Array.from({ length: 1 << 20 }, (_, i) => i & 0xff));
    const calls: [number, number][] = [];
    const source = {
      size: data.length,
      read: async (offset: number, length: number) => {
        calls.push([offset, length]);
        return data.subarray(offset, offset + length);
      },
      close: async () => {},
    };
    const ranges = [
      { offset: 1000, length: 10 },
      { offset: 0, length: 16 },
      { offset: 900_000, length: 4 },
      { offset: 2000, length: 100 },
    ];
    const got = await readRanges(source, ranges, { maxGap: 4096 });
    assert.deepEqual(calls, [
      [0, 2100],
      [900_000, 4],
    ]);
    for (const r of ranges)
      assert.ok(Buffer.from(got.get(r.offset) ?? []).equals(data.subarray(r.offset, r.offset + r.length)));
  });
});
