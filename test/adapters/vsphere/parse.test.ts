import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { readEnvelope } from "../../../adapters/vsphere/soap/envelope.js";
import { toPlain } from "../../../adapters/vsphere/soap/decode.js";
import {
  arr,
  byteCount,
  diskChangeInfoSchema,
  parseAnswer,
  retrieveResultSchema,
  snapshotInfoSchema,
  virtualDeviceSchema,
} from "../../../adapters/vsphere/parse.js";
import { parseXml } from "../../../adapters/vsphere/soap/xml.js";
import { z } from "zod";
import { isSnapvisorError } from "../../../src/domain/errors.js";

const fixture = (name: string) =>
  readFileSync(new URL(`../../../../fixtures/vsphere/${name}.xml`, import.meta.url), "utf8");

function returnval(name: string, method: string) {
  const a = readEnvelope(fixture(name), method);
  assert.equal(a.kind, "result");
  return a.kind === "result" && a.returnval[0] !== undefined ? toPlain(a.returnval[0]) : undefined;
}

test("a captured vcsim RetrievePropertiesEx answer parses into objects, devices and disks", () => {
  const result = parseAnswer(
    retrieveResultSchema,
    returnval("retrieve-page1", "RetrievePropertiesEx"),
    "test",
  );
  assert.ok(result.objects.length >= 2);
  const first = result.objects[0];
  assert.equal(first?.obj.type, "VirtualMachine");
  const devices = parseAnswer(
    arr(virtualDeviceSchema),
    first?.propSet.find((p) => p.name === "config.hardware.device")?.val as never,
    "devices",
  );
  const disk = devices.find((d) => d._type === "VirtualDisk");
  assert.equal(disk?.backing?.type, "VirtualDiskFlatVer2BackingInfo");
  assert.match(disk?.backing?.fileName ?? "", /^\[LocalDS_0\] .*\/disk1\.vmdk$/);
  assert.equal(disk?.capacityInKB, 1024n);
});

test("a captured vcsim snapshot tree parses with quiesced flag and name", () => {
  const result = parseAnswer(retrieveResultSchema, returnval("vm-snapshot", "RetrievePropertiesEx"), "test");
  const info = parseAnswer(snapshotInfoSchema, result.objects[0]?.propSet[0]?.val as never, "snapshot");
  assert.equal(info.rootSnapshotList[0]?.name, "snapvisor-backup-job1");
  assert.equal(info.rootSnapshotList[0]?.quiesced, true);
});

test("xsd:long values beyond 2^53 stay exact as bigint, and byteCount() refuses them as numbers", () => {
  const el = parseXml(
    `<r><startOffset>9007199254740993</startOffset><length>18446744073709551615</length></r>`,
  );
  assert.throws(
    () => parseAnswer(diskChangeInfoSchema, toPlain(el), "test"),
    (e) => isSnapvisorError(e, "VSPHERE_BAD_ANSWER"),
  );
  const ok = parseAnswer(
    diskChangeInfoSchema,
    toPlain(parseXml(`<r><startOffset>9007199254740993</startOffset><length>1</length></r>`)),
    "test",
  );
  assert.equal(ok.startOffset, 9007199254740993n);
  assert.throws(
    () => byteCount(ok.startOffset, "offset"),
    (e) => isSnapvisorError(e, "VSPHERE_BAD_ANSWER") && /9007199254740993/.test(e.message),
  );
  assert.equal(byteCount(2n ** 40n, "x"), 2 ** 40);
});

test("parseAnswer() names the path of a malformed answer", () => {
  const el = parseXml(`<r><startOffset>12x</startOffset><length>1</length></r>`);
  assert.throws(
    () => parseAnswer(diskChangeInfoSchema, toPlain(el), "QueryChangedDiskAreas"),
    (e) => isSnapvisorError(e, "VSPHERE_BAD_ANSWER") && /QueryChangedDiskAreas.*startOffset/.test(e.message),
  );
});

test("arr() reads absent, single, repeated and ArrayOf-wrapped elements alike", () => {
  const wrapped = toPlain(
    parseXml(
      `<val xmlns:x="http://www.w3.org/2001/XMLSchema-instance" x:type="ArrayOfString"><string>a</string><string>b</string></val>`,
    ),
  );
  assert.deepEqual(parseAnswer(arr(z.string()), wrapped, "t"), ["a", "b"]);
  const empty = toPlain(
    parseXml(`<val xmlns:x="http://www.w3.org/2001/XMLSchema-instance" x:type="ArrayOfString"/>`),
  );
  assert.deepEqual(parseAnswer(arr(z.string()), empty, "t"), []);
  const list = (xml: string) =>
    parseAnswer(diskChangeInfoSchema, toPlain(parseXml(xml)), "t").changedArea.length;
  assert.equal(list(`<r><startOffset>0</startOffset><length>1</length></r>`), 0);
  assert.equal(
    list(
      `<r><startOffset>0</startOffset><length>1</length><changedArea><start>0</start><length>1</length></changedArea></r>`,
    ),
    1,
  );
  assert.equal(
    list(
      `<r><startOffset>0</startOffset><length>9</length><changedArea><start>0</start><length>1</length></changedArea><changedArea><start>4</start><length>1</length></changedArea></r>`,
    ),
    2,
  );
});
