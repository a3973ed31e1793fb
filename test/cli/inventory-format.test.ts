import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { formatInventory, inventoryRows } from "../../src/cli/inventory-format.js";
import { planBackup } from "../../src/controller/plan.js";
import { config, disk, vm } from "../controller/builders.js";

describe("formatInventory()", () => {
  const groups = config([
    { name: "fs", source: "c1", vms: [{ pattern: "fs-*" }], policy: { consistency: "require-application" } },
  ]).protectionGroups;
  const shared = disk("scsi0:1", { path: "C:\\CSV\\q.vhdx", datastore: "v1", shared: true });
  const plan = planBackup({
    inventory: [
      {
        source: "c1",
        vms: [
          vm("fs-1", { hypervisor: "hyperv", cluster: "c1", host: "n1", disks: [disk("scsi0:0"), shared] }),
          vm("fs-2", {
            hypervisor: "hyperv",
            cluster: "c1",
            host: "n2",
            power: "off",
            lastShutdown: "dirty",
            lastShutdownDetail: "event 18528",
            disks: [disk("scsi0:0"), shared],
          }),
          vm("dc-1", { hypervisor: "hyperv", host: "n2" }),
        ],
      },
    ],
    groups,
    latest: new Map(),
    now: new Date(0),
  });

  it("gives per VM the facts, the decision and why, and the shared disks with their VMs", () => {
    const text = formatInventory(plan);
    const lines = text.split("\n");
    assert.match(lines[0] ?? "", /^vm\s+host\s+group\s+power\s+tools\s+last shutdown\s+consistency\s+why$/);
    assert.match(text, /dc-1 +n2 +- +on +running +- +not protected +not selected by any protection group/);
    assert.match(
      text,
      /fs-1 +c1\/n1 +fs +on +running +- +application \(quiesced-snapshot\) +Hyper-V Integration Services/,
    );
    assert.match(
      text,
      /fs-2 +c1\/n2 +fs +off +running +dirty +refused +Cannot back up VM "fs-2" application-consistently .*event 18528/,
    );
    assert.match(text, /shared disks:\npath +owner +vms +protected\nC:\\CSV\\q\.vhdx +c1 +fs-1, fs-2 +yes/);
  });

  it("gives the same facts as rows for --json", () => {
    const rows = inventoryRows(plan);
    assert.deepEqual(
      rows.map((r) => [r.vm, r.status, r.expected]),
      [
        ["dc-1", "skip", undefined],
        ["fs-1", "include", "application"],
        ["fs-2", "refuse", undefined],
      ],
    );
  });
});
