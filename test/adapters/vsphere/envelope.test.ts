import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { buildEnvelope, readEnvelope } from "../../../adapters/vsphere/soap/envelope.js";
import { parseXml } from "../../../adapters/vsphere/soap/xml.js";
import { isSnapvisorError } from "../../../src/domain/errors.js";

const fixture = (name: string) =>
  readFileSync(new URL(`../../../../fixtures/vsphere/${name}.xml`, import.meta.url), "utf8");
const body = (xml: string) => parseXml(xml).children[0]?.children[0];

test("buildEnvelope() writes parameters in XSD order whatever the argument order", () => {
  const xml = buildEnvelope("QueryChangedDiskAreas", {
    changeId: "*",
    startOffset: 0,
    deviceKey: 2000,
    snapshot: { type: "VirtualMachineSnapshot", value: "snapshot-1" },
    _this: { type: "VirtualMachine", value: "vm-1" },
  });
  assert.deepEqual(
    body(xml)?.children.map((c) => c.name),
    ["_this", "snapshot", "deviceKey", "startOffset", "changeId"],
  );
});

test("buildEnvelope() writes base-type fields first and xsi:type for a subtype", () => {
  const xml = buildEnvelope("RetrievePropertiesEx", {
    _this: { type: "PropertyCollector", value: "pc" },
    specSet: [
      {
        _type: "PropertyFilterSpec",
        objectSet: [
          {
            _type: "ObjectSpec",
            selectSet: [
              { _type: "TraversalSpec", skip: false, path: "view", type: "ContainerView", name: "v" },
            ],
            skip: true,
            obj: { type: "ContainerView", value: "session[1]" },
          },
        ],
        propSet: [{ _type: "PropertySpec", pathSet: ["name"], type: "VirtualMachine" }],
      },
    ],
    options: { _type: "RetrieveOptions", maxObjects: 100 },
  });
  const spec = body(xml)?.children[1];
  assert.deepEqual(
    spec?.children.map((c) => c.name),
    ["propSet", "objectSet"],
  );
  const sel = spec?.children[1]?.children[2];
  assert.equal(sel?.name, "selectSet");
  assert.match(
    xml,
    /<selectSet xsi:type="TraversalSpec"><name>v<\/name><type>ContainerView<\/type><path>view<\/path><skip>false<\/skip><\/selectSet>/,
  );
});

test("buildEnvelope() keeps xsd:long exact beyond 2^53 with bigint and refuses inexact numbers", () => {
  const big = 2n ** 62n + 1n;
  const xml = buildEnvelope("QueryChangedDiskAreas", {
    _this: { type: "VirtualMachine", value: "vm-1" },
    deviceKey: 1,
    startOffset: big,
    changeId: "*",
  });
  assert.match(xml, new RegExp(`<startOffset>${big}</startOffset>`));
  const args = (startOffset: number | bigint, deviceKey = 1) => ({
    _this: { type: "VirtualMachine", value: "vm-1" },
    deviceKey,
    startOffset,
    changeId: "*",
  });
  assert.throws(
    () => buildEnvelope("QueryChangedDiskAreas", args(2 ** 53 + 2)),
    (e) => isSnapvisorError(e, "VSPHERE_INVALID_ARGUMENT"),
  );
  assert.throws(
    () => buildEnvelope("QueryChangedDiskAreas", args(2n ** 63n)),
    (e) => isSnapvisorError(e, "VSPHERE_INVALID_ARGUMENT"),
  );
  assert.throws(
    () => buildEnvelope("QueryChangedDiskAreas", args(0, 2 ** 31)),
    (e) => isSnapvisorError(e, "VSPHERE_INVALID_ARGUMENT"),
  );
});

test("buildEnvelope() refuses unknown parameters and fields instead of dropping them", () => {
  assert.throws(
    () => buildEnvelope("Login", { _this: { type: "SessionManager", value: "sm" }, user: "x" }),
    (e) => isSnapvisorError(e, "VSPHERE_INVALID_ARGUMENT"),
  );
  assert.throws(
    () =>
      buildEnvelope("ReconfigVM_Task", {
        _this: { type: "VirtualMachine", value: "vm-1" },
        spec: { _type: "VirtualMachineConfigSpec", memoryMB: 1 },
      }),
    (e) => isSnapvisorError(e, "VSPHERE_INVALID_ARGUMENT"),
  );
  assert.throws(
    () => buildEnvelope("NoSuchMethod", {}),
    (e) => isSnapvisorError(e, "VSPHERE_INVALID_ARGUMENT"),
  );
});

test("buildEnvelope() escapes hostile names and types anyType option values as xsd:string", () => {
  const xml = buildEnvelope("ReconfigVM_Task", {
    _this: { type: "VirtualMachine", value: "vm-1" },
    spec: {
      _type: "VirtualMachineConfigSpec",
      changeTrackingEnabled: true,
      extraConfig: [{ _type: "OptionValue", key: "k", value: `<a&b>` }],
      name: `"x" & <y>`,
    },
  });
  const spec = body(xml)?.children[1];
  assert.deepEqual(
    spec?.children.map((c) => c.name),
    ["name", "extraConfig", "changeTrackingEnabled"],
  );
  assert.equal(spec?.children[0]?.text, `"x" & <y>`);
  assert.match(xml, /<value xsi:type="xsd:string">&lt;a&amp;b&gt;<\/value>/);
});

test("readEnvelope() answers the returnval elements of a captured vcsim answer", () => {
  const answer = readEnvelope(fixture("service-content"), "RetrieveServiceContent");
  assert.equal(answer.kind, "result");
  if (answer.kind === "result") assert.equal(answer.returnval.length, 1);
});

test("readEnvelope() answers the Fault element of a captured fault and refuses a mismatched body", () => {
  assert.equal(readEnvelope(fixture("fault-invalid-login"), "Login").kind, "fault");
  assert.throws(
    () => readEnvelope(fixture("service-content"), "Login"),
    (e) => isSnapvisorError(e, "VSPHERE_BAD_ANSWER"),
  );
  assert.throws(
    () => readEnvelope("<html><body>proxy error</body></html>", "Login"),
    (e) => isSnapvisorError(e, "VSPHERE_BAD_ANSWER"),
  );
});
