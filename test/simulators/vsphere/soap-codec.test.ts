import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  faultEnvelope,
  parseRequest,
  responseEnvelope,
  writeElement,
  xsiType,
  child,
  textOf,
  morefOf,
} from "../../../simulators/vsphere/soap-codec.js";
import { MoRef, Typed, VimFault, data } from "../../../simulators/vsphere/vim-value.js";

describe("vim25 SOAP codec", () => {
  it("writes fields in XSD order whatever the order they were given in, base type first", () => {
    const tree = data("VirtualMachineSnapshotTree", {
      quiesced: true,
      name: "a",
      vm: new MoRef("VirtualMachine", "vm-1"),
      snapshot: new MoRef("VirtualMachineSnapshot", "snapshot-2"),
      description: "",
      createTime: new Date(0),
      state: "poweredOff",
      childSnapshotList: [],
    });
    const xml = writeElement("t", "VirtualMachineSnapshotTree", tree);
    const order = [...xml.matchAll(/<(\w+)[ >]/g)].map((m) => m[1]).slice(1);
    assert.deepEqual(order, ["snapshot", "vm", "name", "description", "createTime", "state", "quiesced"]);
  });

  it("writes xsi:type only where the concrete type differs from the declared one", () => {
    const disk = data("VirtualDisk", {
      key: 2000,
      capacityInKB: 1,
      backing: data("VirtualDiskFlatVer2BackingInfo", { fileName: "[ds] a.vmdk", diskMode: "persistent" }),
    });
    const xml = writeElement("device", "VirtualDevice", disk);
    assert.match(
      xml,
      /^<device xsi:type="VirtualDisk"><key>2000<\/key><backing xsi:type="VirtualDiskFlatVer2BackingInfo"><fileName>/,
    );
    assert.doesNotMatch(writeElement("d", "VirtualDisk", disk), /^<d xsi:type/);
  });

  it("writes anyType values with their declared type, arrays as ArrayOfT", () => {
    assert.equal(
      writeElement("val", "xsd:anyType", new Typed("xsd:long", 2 ** 40)),
      '<val xsi:type="xsd:long">1099511627776</val>',
    );
    assert.equal(
      writeElement(
        "val",
        "xsd:anyType",
        new Typed("ManagedObjectReference[]", [new MoRef("Datastore", "datastore-1")]),
      ),
      '<val xsi:type="ArrayOfManagedObjectReference"><ManagedObjectReference type="Datastore">datastore-1</ManagedObjectReference></val>',
    );
    assert.equal(
      writeElement("val", "xsd:anyType", new Typed("xsd:long", 2n ** 63n - 1n)),
      '<val xsi:type="xsd:long">9223372036854775807</val>',
    );
  });

  it("escapes XML specials in text and attributes", () => {
    assert.equal(
      writeElement("n", "xsd:string", `<a&b> "q" 'x'`),
      "<n>&lt;a&amp;b&gt; &quot;q&quot; &apos;x&apos;</n>",
    );
    assert.match(
      writeElement("o", "ManagedObjectReference", new MoRef("Folder", "a&b")),
      /type="Folder">a&amp;b</,
    );
  });

  it("refuses a missing required field and a field the type does not have", () => {
    assert.throws(
      () => writeElement("x", "DiskChangeExtent", data("DiskChangeExtent", { start: 0 })),
      /required field length/,
    );
    assert.throws(
      () =>
        writeElement("x", "DiskChangeExtent", data("DiskChangeExtent", { start: 0, length: 1, bogus: 1 })),
      /not part of vim25 type/,
    );
  });

  it("wraps faults as vCenter does: <TypeFault xsi:type=Type> in detail", () => {
    const xml = faultEnvelope(new VimFault("InvalidLogin", "Cannot complete login"));
    assert.match(
      xml,
      /<faultcode>ServerFaultCode<\/faultcode><faultstring>Cannot complete login<\/faultstring><detail><InvalidLoginFault xmlns="urn:vim25" xsi:type="InvalidLogin"><\/InvalidLoginFault><\/detail>/,
    );
    assert.match(
      responseEnvelope("Logout", "xsd:anyType", undefined),
      /<LogoutResponse xmlns="urn:vim25"><\/LogoutResponse>/,
    );
  });

  it("parses requests whatever the namespace prefixes, keeping long values as text", () => {
    const r = parseRequest(
      `<?xml version="1.0"?><S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><S:Body><v:QueryChangedDiskAreas xmlns:v="urn:vim25"><v:_this type="VirtualMachine">vm-1</v:_this><v:startOffset>9223372036854775807</v:startOffset><v:spec i:type="TraversalSpec"/></v:QueryChangedDiskAreas></S:Body></S:Envelope>`,
    );
    assert.equal(r.method, "QueryChangedDiskAreas");
    assert.deepEqual(morefOf(child(r.body, "_this")), new MoRef("VirtualMachine", "vm-1"));
    assert.equal(textOf(r.body, "startOffset"), "9223372036854775807");
    assert.equal(xsiType(child(r.body, "spec")!), "TraversalSpec");
  });

  it("refuses DTDs and malformed envelopes", () => {
    assert.throws(() => parseRequest(`<!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>`), /DOCTYPE/);
    assert.throws(() => parseRequest(`<a><b></a>`), /malformed XML|no SOAP Envelope/);
    assert.throws(() => parseRequest(`<Envelope><Body></Body></Envelope>`), /empty SOAP Body/);
  });
});
