import assert from "node:assert/strict";
import { connect } from "node:tls";
import { after, before, describe, it } from "node:test";
import {
  esc,
  kid,
  kids,
  ref,
  refXml,
  textAt,
  VimTestClient,
  xsiType,
} from "../../support/vim-soap-client.js";
import { login, PC, propsRequest, scenario, SI, startLab, vmSpec, type Lab } from "./helpers.js";

const HOSTILE = `<a&b> "quoted" 'single' / back\\slash 100% ünï`;

describe("vSphere simulator SOAP endpoint", () => {
  let lab: Lab;
  before(async () => {
    const vms = Array.from({ length: 7 }, (_, i) => vmSpec(`vm-${i}`));
    vms.push(vmSpec(HOSTILE, { power: "off", lastShutdown: "crash", host: "esx-03" }));
    lab = await startLab(
      scenario(vms, { options: { maxObjectsPerPage: 100, cbtMaxExtentsPerCall: 1024, cbtBlockSize: 65536 } }),
    );
  });
  after(() => lab.stop());

  it("serves a certificate whose SHA-256 thumbprint is the one announced", async () => {
    const url = new URL(lab.sim.sdkUrl);
    const fp = await new Promise<string>((resolve, reject) => {
      const s = connect({ host: url.hostname, port: Number(url.port), rejectUnauthorized: false }, () => {
        resolve(s.getPeerCertificate().fingerprint256);
        s.end();
      });
      s.on("error", reject);
    });
    assert.equal(fp, lab.sim.thumbprint);
  });

  it("RetrieveServiceContent answers without a session, with the managers a client needs", async () => {
    const [sc] = await new VimTestClient(lab.sim.sdkUrl).ok("RetrieveServiceContent", SI);
    assert.deepEqual(ref(kid(sc, "rootFolder")), { type: "Folder", value: "group-d1" });
    assert.equal(textAt(sc, "about", "apiType"), "VirtualCenter");
    assert.deepEqual(ref(kid(sc, "propertyCollector")), PC);
    assert.ok(kid(sc, "eventManager") && kid(sc, "viewManager") && kid(sc, "sessionManager"));
  });

  it("faults NotAuthenticated without a session cookie, naming the object", async () => {
    const r = await new VimTestClient(lab.sim.sdkUrl).call(
      "RetrievePropertiesEx",
      PC,
      propsRequest({ type: "Folder", value: "group-d1" }, ["name"]),
    );
    assert.equal(r.ok, false);
    assert.ok(!r.ok);
    assert.equal(r.status, 500);
    assert.equal(r.faultType, "NotAuthenticated");
    assert.equal(r.detail?.name, "NotAuthenticatedFault");
    assert.deepEqual(ref(kid(r.detail, "object")), PC);
  });

  it("faults InvalidLogin on a wrong password and sets no cookie", async () => {
    const c = new VimTestClient(lab.sim.sdkUrl);
    const r = await login(c, "administrator@vsphere.local", "wrong");
    assert.ok(!r.ok);
    assert.equal(r.faultType, "InvalidLogin");
    assert.equal(c.cookie, undefined);
  });

  it("logs in with XML special characters in the password and returns a vmware_soap_session cookie", async () => {
    const c = new VimTestClient(lab.sim.sdkUrl);
    const r = await login(c);
    assert.ok(r.ok);
    assert.match(c.cookie ?? "", /^vmware_soap_session="[0-9a-f-]{36}"$/);
    assert.equal(textAt(kid(r.body, "returnval"), "userName"), "administrator@vsphere.local");
    await c.ok("Logout", { type: "SessionManager", value: "SessionManager" });
    const after = await c.call(
      "CreateContainerView",
      { type: "ViewManager", value: "ViewManager" },
      refXml("container", { type: "Folder", value: "group-d1" }) + "<recursive>true</recursive>",
    );
    assert.ok(!after.ok);
    assert.equal(after.faultType, "NotAuthenticated");
  });

  it("pages a container view inventory with maxObjects and ContinueRetrievePropertiesEx tokens", async () => {
    const [view] = await lab.client.ok(
      "CreateContainerView",
      { type: "ViewManager", value: "ViewManager" },
      `${refXml("container", { type: "Folder", value: "group-d1" })}<type>VirtualMachine</type><recursive>true</recursive>`,
    );
    const spec = `<specSet><propSet><type>VirtualMachine</type><pathSet>name</pathSet><pathSet>runtime.powerState</pathSet></propSet><objectSet>${refXml("obj", ref(view))}<skip>true</skip><selectSet xsi:type="TraversalSpec"><type>ContainerView</type><path>view</path><skip>false</skip></selectSet></objectSet></specSet>`;
    const names: string[] = [];
    let [page] = await lab.client.ok(
      "RetrievePropertiesEx",
      PC,
      `${spec}<options><maxObjects>3</maxObjects></options>`,
    );
    let pages = 1;
    for (;;) {
      const objs = kids(page, "objects");
      assert.ok(objs.length <= 3);
      for (const o of objs)
        names.push(
          textAt(
            kids(o, "propSet").find((p) => textAt(p, "name") === "name"),
            "val",
          ) ?? "",
        );
      const token = textAt(page, "token");
      if (!token) break;
      [page] = await lab.client.ok("ContinueRetrievePropertiesEx", PC, `<token>${token}</token>`);
      pages++;
    }
    assert.equal(pages, 3);
    assert.equal(names.length, 8);
    // vSphere escapes %, / and \ in entity names; XML specials survive the round trip.
    assert.ok(names.includes(`<a&b> "quoted" 'single' %2f back%5cslash 100%25 ünï`), names.join("|"));
    const bad = await lab.client.call("ContinueRetrievePropertiesEx", PC, "<token>nope</token>");
    assert.ok(!bad.ok);
    assert.equal(bad.faultType, "InvalidArgument");
  });

  it("leaves unset properties out and faults InvalidProperty on an unknown path", async () => {
    const off = await lab.vm(HOSTILE);
    const on = await lab.vm("vm-0");
    assert.equal((await lab.prop(off, "runtime.cleanPowerOff"))?.text, "false");
    assert.equal(await lab.prop(on, "runtime.cleanPowerOff"), undefined);
    assert.equal(await lab.prop(on, "snapshot"), undefined);
    const val = await lab.prop(on, "runtime.powerState");
    assert.equal(xsiType(val!), "VirtualMachinePowerState");
    const r = await lab.client.call("RetrievePropertiesEx", PC, propsRequest(on, ["config.nope"]));
    assert.ok(!r.ok);
    assert.equal(r.faultType, "InvalidProperty");
    assert.equal(textAt(r.detail, "name"), "config.nope");
  });

  it("reports disks with capacity, backing file and 64-bit-safe sizes in config.hardware.device", async () => {
    const devices = await lab.prop(await lab.vm("vm-1"), "config.hardware.device");
    assert.equal(xsiType(devices!), "ArrayOfVirtualDevice");
    const disk = kids(devices, "VirtualDevice").find((d) => xsiType(d) === "VirtualDisk");
    assert.equal(textAt(disk, "capacityInBytes"), String(4 * 1024 * 1024));
    assert.equal(xsiType(kid(disk, "backing")!), "VirtualDiskFlatVer2BackingInfo");
    assert.equal(textAt(disk, "backing", "fileName"), "[ds1] vm-1/vm-1.vmdk");
  });

  it("faults ManagedObjectNotFound and MethodNotFound like vCenter", async () => {
    const gone = await lab.client.call("PowerOnVM_Task", { type: "VirtualMachine", value: "vm-9999" });
    assert.ok(!gone.ok);
    assert.equal(gone.faultType, "ManagedObjectNotFound");
    const nomethod = await lab.client.call("MountToolsInstaller", await lab.vm("vm-0"));
    assert.ok(!nomethod.ok);
    assert.equal(nomethod.faultType, "MethodNotFound");
    const wrongReceiver = await lab.client.call(
      "CreateSnapshot_Task",
      { type: "Folder", value: "group-d1" },
      "<name>x</name><memory>false</memory><quiesce>false</quiesce>",
    );
    assert.ok(!wrongReceiver.ok);
    assert.equal(wrongReceiver.faultType, "MethodNotFound");
  });

  it("answers a malformed envelope with a client fault instead of crashing", async () => {
    const r = await lab.client.post("<soapenv:Envelope><broken");
    assert.equal(r.status, 500);
    assert.match(r.body, /ClientFaultCode/);
    const dtd = await lab.client.post('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x/>');
    assert.match(dtd.body, /DOCTYPE is not allowed/);
  });

  it("drops every session on a session-expiry rule: the next call is NotAuthenticated", async () => {
    const c = new VimTestClient(lab.sim.sdkUrl);
    assert.ok((await login(c)).ok);
    const r = await lab.control("POST", "/faults", { kind: "session-expiry", afterCalls: 1 });
    assert.equal(r.status, 200);
    assert.ok(
      (
        await c.call(
          "RetrievePropertiesEx",
          PC,
          propsRequest({ type: "Folder", value: "group-d1" }, ["name"]),
        )
      ).ok,
    );
    const expired = await c.call(
      "RetrievePropertiesEx",
      PC,
      propsRequest({ type: "Folder", value: "group-d1" }, ["name"]),
    );
    assert.ok(!expired.ok);
    assert.equal(expired.faultType, "NotAuthenticated");
    assert.ok((await login(c)).ok, "a new login works after expiry");
    assert.ok((await login(lab.client)).ok);
  });

  it("refuses the control API without the bearer token", async () => {
    const { request } = await import("node:https");
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${lab.sim.controlUrl}/state`, { rejectUnauthorized: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });
    assert.equal(status, 401);
  });

  it("escapes hostile names in events and property values", async () => {
    const vm = await lab.vm(HOSTILE);
    const name = await lab.prop(vm, "config.name");
    assert.equal(name?.text, `<a&b> "quoted" 'single' %2f back%5cslash 100%25 ünï`);
    assert.ok(esc(HOSTILE).includes("&lt;a&amp;b&gt;"));
  });

  it("answers as a standalone ESXi host (HostAgent) when the scenario says product: esxi", async () => {
    const esx = await startLab({ ...scenario([vmSpec("solo", { host: "esx-03" })]), product: "esxi" });
    try {
      const [sc] = await esx.client.ok("RetrieveServiceContent", SI);
      assert.equal(textAt(sc, "about", "apiType"), "HostAgent");
      assert.equal(textAt(sc, "about", "productLineId"), "embeddedEsx");
      const events = await esx.client.ok(
        "QueryEvents",
        ref(kid(sc, "eventManager")),
        "<filter><maxCount>5</maxCount></filter>",
      );
      assert.ok(events.length > 0);
    } finally {
      await esx.stop();
    }
  });
});
