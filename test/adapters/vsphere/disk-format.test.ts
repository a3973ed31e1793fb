import { test } from "node:test";
import assert from "node:assert/strict";
import { flatExtents, parseDescriptor } from "../../../adapters/vsphere/vmdk-descriptor.js";
import { folderUrl, parseDatastorePath, sibling } from "../../../adapters/vsphere/disk-reader.js";
import { ddCommand, hostKeyMatches, shellQuote, volumePath } from "../../../adapters/vsphere/ssh-reader.js";
import { isSnapvisorError } from "../../../src/domain/errors.js";
import { createHash } from "node:crypto";

const ESXI_FLAT = `# Disk DescriptorFile
version=1
encoding="UTF-8"
CID=d7980f7a
parentCID=ffffffff
isNativeSnapshot="no"
createType="vmfs"

# Extent description
RW 67108864 VMFS "disk-flat.vmdk"

# The Disk Data Base
#DDB
ddb.adapterType = "lsilogic"
ddb.thinProvisioned = "1"
`;

test("parseDescriptor() finds the flat extent of an ESXi vmfs descriptor", () => {
  const d = parseDescriptor(ESXI_FLAT, "disk.vmdk");
  assert.equal(d.createType, "vmfs");
  assert.equal(d.parentCID, undefined);
  assert.deepEqual(flatExtents(d, "disk.vmdk"), [
    { access: "RW", sectors: 67108864, type: "VMFS", file: "disk-flat.vmdk", offset: 0 },
  ]);
});

test("parseDescriptor() reads several FLAT extents with offsets and quoted names", () => {
  const d = parseDescriptor(
    `createType="twoGbMaxExtentFlat"\nRW 4 FLAT "a \\"b\\"-f001.vmdk" 0\nRW 8 FLAT "c-f002.vmdk" 2\nRW 2 ZERO\n`,
    "x",
  );
  assert.deepEqual(
    flatExtents(d, "x").map((e) => [e.file, e.sectors, e.offset, e.type]),
    [
      [`a "b"-f001.vmdk`, 4, 0, "FLAT"],
      ["c-f002.vmdk", 8, 2, "FLAT"],
      ["", 2, 0, "ZERO"],
    ],
  );
});

test("flatExtents() refuses a -delta/-sesparse child with a clear coded error", () => {
  const delta = `createType="seSparse"\nparentCID=d7980f7a\nparentFileNameHint="disk.vmdk"\nRW 67108864 SESPARSE "disk-000001-sesparse.vmdk"\n`;
  assert.throws(
    () => flatExtents(parseDescriptor(delta, "disk-000001.vmdk"), "disk-000001.vmdk"),
    (e) =>
      isSnapvisorError(e, "VSPHERE_DISK_UNSUPPORTED") && /snapshot delta.*user snapshots/.test(e.message),
  );
  const vsan = `createType="vsanSparse"\nRW 8 VSANSPARSE "vsan://52a"\n`;
  assert.throws(
    () => flatExtents(parseDescriptor(vsan, "v"), "v"),
    (e) => isSnapvisorError(e, "VSPHERE_DISK_UNSUPPORTED") && /VSANSPARSE/.test(e.message),
  );
  assert.throws(
    () => parseDescriptor("KDMV\u0001binary", "s"),
    (e) => isSnapvisorError(e, "VSPHERE_DISK_UNSUPPORTED"),
  );
  assert.throws(
    () => parseDescriptor("hello", "s"),
    (e) => isSnapvisorError(e, "VSPHERE_DISK_UNSUPPORTED"),
  );
});

test("folderUrl() encodes hostile path segments and query values", () => {
  const file = parseDatastorePath("[data store&1] vm <a&b>/disk #1?.vmdk");
  assert.deepEqual(file, { datastore: "data store&1", path: "vm <a&b>/disk #1?.vmdk" });
  assert.equal(
    folderUrl(file, "DC 0"),
    "/folder/vm%20%3Ca%26b%3E/disk%20%231%3F.vmdk?dcPath=DC+0&dsName=data+store%261",
  );
  assert.deepEqual(sibling(file, "disk-flat.vmdk"), {
    datastore: "data store&1",
    path: "vm <a&b>/disk-flat.vmdk",
  });
  assert.throws(
    () => parseDatastorePath("/vmfs/volumes/x.vmdk"),
    (e) => isSnapvisorError(e, "VSPHERE_DISK_UNSUPPORTED"),
  );
});

test("ddCommand() reads the 512-aligned window with the largest fitting block size", () => {
  assert.deepEqual(ddCommand("/v/d", 0, 1 << 20), {
    command: "dd if='/v/d' bs=1048576 skip=0 count=1 2>/dev/null",
    windowStart: 0,
    windowLength: 1 << 20,
  });
  assert.deepEqual(ddCommand("/v/d", 4096, 8192), {
    command: "dd if='/v/d' bs=4096 skip=1 count=2 2>/dev/null",
    windowStart: 4096,
    windowLength: 8192,
  });
  const odd = ddCommand("/v/d", 1000, 100);
  assert.equal(odd.windowStart, 512);
  assert.equal(odd.windowLength, 1024);
  assert.match(odd.command, /bs=512 skip=1 count=2/);
});

test("shellQuote() and volumePath() keep hostile names inside one quoted word and inside the datastore", () => {
  assert.equal(shellQuote(`a'b; rm -rf / $(x) \`y\``), `'a'\\''b; rm -rf / $(x) \`y\`'`);
  assert.throws(
    () => shellQuote("a\0b"),
    (e) => isSnapvisorError(e, "VSPHERE_INVALID_ARGUMENT"),
  );
  assert.equal(
    volumePath({ datastore: "ds1", path: "vm/d.vmdk" }, "/vmfs/volumes"),
    "/vmfs/volumes/ds1/vm/d.vmdk",
  );
  assert.throws(
    () => volumePath({ datastore: "ds1", path: "../../etc/shadow" }, "/vmfs/volumes"),
    (e) => isSnapvisorError(e, "VSPHERE_INVALID_ARGUMENT"),
  );
});

test("hostKeyMatches() accepts the OpenSSH SHA256: form and hex, and nothing else", () => {
  const key = Buffer.from("ssh-ed25519 host key blob");
  const digest = createHash("sha256").update(key).digest();
  assert.equal(hostKeyMatches(key, `SHA256:${digest.toString("base64").replace(/=+$/, "")}`), true);
  assert.equal(hostKeyMatches(key, digest.toString("hex").replace(/(..)(?!$)/g, "$1:")), true);
  assert.equal(hostKeyMatches(key, "SHA256:AAAA"), false);
});
