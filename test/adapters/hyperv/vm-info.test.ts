import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { guestOsOf, powerOf, toolsOf, volumeOf } from "../../../adapters/hyperv/vm-info.js";
import type { NodeVm } from "../../../adapters/hyperv/script-schemas.js";

const VM = "6A0F2D4E-1C7B-4D2A-9E41-0C5B8F1A2B01";

function vm(state: string, vss: [boolean, string | null] | undefined, hb: string | null): NodeVm {
  const ics: NodeVm["IntegrationServices"] = [];
  // Localized names on purpose: matching must go by component id.
  if (vss)
    ics.push({
      Id: `Microsoft:${VM}\\5CED1297-4598-4915-A5FC-AD21BB4D02A4`,
      Name: "Sauvegarde (cliché instantané)",
      Enabled: vss[0],
      PrimaryOperationalStatus: vss[1],
    });
  ics.push({
    Id: `Microsoft:${VM}\\84EAAE65-2F2E-45F5-9BB5-0E857DC8EB47`,
    Name: "Pulsation",
    Enabled: true,
    PrimaryOperationalStatus: hb,
  });
  return {
    Id: VM,
    Name: "x",
    State: state,
    Generation: 2,
    Version: "9.0",
    ComputerName: "HV01",
    IsClustered: false,
    GuestItems: [],
    IntegrationServices: ics,
    Disks: [],
    Checkpoints: [],
  };
}

describe("toolsOf() matches integration services by id", () => {
  const cases: Array<[string, NodeVm, string]> = [
    ["running when VSS is enabled and OK and the heartbeat OK", vm("Running", [true, "OK"], "OK"), "running"],
    ["running with a Degraded heartbeat", vm("Running", [true, "OK"], "Degraded"), "running"],
    ["not running when VSS is disabled on the host", vm("Running", [false, null], "OK"), "not-running"],
    [
      "not running when VSS lost communication",
      vm("Running", [true, "LostCommunication"], "OK"),
      "not-running",
    ],
    [
      "not installed when nothing in the guest answers",
      vm("Running", [true, "NoContact"], "NoContact"),
      "not-installed",
    ],
    ["not installed when the VSS component is absent", vm("Running", undefined, "OK"), "not-installed"],
    ["not running (unknowable) when the VM is off", vm("Off", [true, null], null), "not-running"],
  ];
  for (const [name, input, expected] of cases) {
    it(`is ${name}`, () => assert.equal(toolsOf(input).tools, expected));
  }
});

describe("VmInfo mapping helpers", () => {
  it("normalizes power states, critical ones included", () => {
    assert.deepEqual(["Running", "Off", "Saved", "Paused", "OffCritical", "Starting"].map(powerOf), [
      "on",
      "off",
      "saved",
      "paused",
      "off",
      "on",
    ]);
  });
  it("reads the guest OS family from the KVP OSName item", () => {
    const item = (data: string): string =>
      `<INSTANCE CLASSNAME="Msvm_KvpExchangeDataItem"><PROPERTY NAME="Data" TYPE="string"><VALUE>${data}</VALUE></PROPERTY><PROPERTY NAME="Name" TYPE="string"><VALUE>OSName</VALUE></PROPERTY></INSTANCE>`;
    assert.equal(guestOsOf([item("Windows Server 2022 Datacenter")]).family, "windows");
    assert.equal(guestOsOf([item("Ubuntu 22.04.4 LTS")]).family, "linux");
    assert.equal(guestOsOf([]).family, "other");
  });
  it("places a disk on the longest matching CSV, else on its drive", () => {
    const vols = [
      { Name: "a", OwnerNode: "HV01", Path: "C:\\ClusterStorage\\Volume1" },
      { Name: "b", OwnerNode: "HV01", Path: "C:\\ClusterStorage\\Volume10" },
    ];
    assert.equal(volumeOf("C:\\ClusterStorage\\Volume10\\x.vhdx", vols), "C:\\ClusterStorage\\Volume10");
    assert.equal(volumeOf("D:\\VMs\\x.vhdx", vols), "D:\\");
  });
});
