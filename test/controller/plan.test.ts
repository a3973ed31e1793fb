import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  SHARED_DISK_KEY,
  diskBase,
  planBackup,
  sharedDiskId,
  type PlanInput,
  type PlannedVm,
} from "../../src/controller/plan.js";
import type { LatestPoint } from "../../src/domain/repository-port.js";
import { config, disk, MiB, vm } from "./builders.js";

const now = new Date("2026-01-10T02:00:00Z");

function plan(over: Partial<PlanInput> & Pick<PlanInput, "inventory" | "groups">) {
  return planBackup({ latest: new Map(), now, ...over });
}

function byName(vms: readonly PlannedVm[]): Record<string, string> {
  return Object.fromEntries(
    vms.map((p) => [
      p.vm.name,
      p.status === "include" ? `include:${p.group.name}` : `${p.status}: ${p.reason}`,
    ]),
  );
}

describe("planBackup() selection", () => {
  const groups = config([
    { name: "sql", source: "vc1", vms: [{ name: "SQL-01" }, { id: "vm-legacy" }] },
    {
      name: "web",
      source: "vc1",
      vms: [{ pattern: "web-*" }, { pattern: "sql-0?" }],
      exclude: [{ pattern: "*-template" }],
    },
    { name: "hv", source: "c1", vms: [{ pattern: "*" }] },
  ]).protectionGroups;

  it("selects by name, pattern and id, first group first, and says why the others are skipped", () => {
    const p = plan({
      groups,
      inventory: [
        {
          source: "vc1",
          vms: [
            vm("sql-01"),
            vm("sql-02"),
            vm("web-1"),
            vm("web-gold-template"),
            vm("old", { ref: "vm-legacy" }),
            vm("dc-01"),
          ],
        },
        { source: "c1", vms: [vm("web-9", { hypervisor: "hyperv" })] },
      ],
    });
    assert.deepEqual(byName(p.vms), {
      "sql-01": "include:sql",
      "sql-02": "include:web",
      "web-1": "include:web",
      "web-gold-template": 'skip: excluded from group "web" by pattern "*-template"',
      old: "include:sql",
      "dc-01": "skip: not selected by any protection group",
      "web-9": "include:hv",
    });
  });

  it("carries the consistency decision, and refuses require-application VMs that cannot meet it", () => {
    const strict = config([
      { name: "g", source: "vc1", vms: [{ pattern: "*" }], policy: { consistency: "require-application" } },
    ]);
    const p = plan({
      groups: strict.protectionGroups,
      inventory: [
        {
          source: "vc1",
          vms: [
            vm("a"),
            vm("b", { tools: "not-running", toolsDetail: "toolsRunningStatus is guestToolsNotRunning" }),
          ],
        },
      ],
    });
    const [a, b] = p.vms;
    assert.equal(a?.status === "include" && a.decision.method, "quiesced-snapshot");
    assert.equal(b?.status, "refuse");
    assert.ok(b?.status === "refuse" && b.reason.includes("guestToolsNotRunning"), JSON.stringify(b));
  });

  it("reports VMs added to and removed from a group since the last run", () => {
    const p = plan({
      groups,
      inventory: [{ source: "vc1", vms: [vm("web-1"), vm("web-3")] }],
      previousMembers: new Map([["web", ["web-1", "web-2"]]]),
    });
    assert.deepEqual(p.changes, [{ group: "web", added: ["web-3"], removed: ["web-2"] }]);
  });
});

describe("diskBase()", () => {
  const latest: LatestPoint = {
    id: "p1",
    takenAt: now,
    disks: [
      { key: "2000", capacity: 4 * MiB, changeId: "52 1a/4" },
      { key: "2001", capacity: 4 * MiB, changeId: undefined },
    ],
  };
  // prettier-ignore
  const cases: [string, Parameters<typeof diskBase>[0], LatestPoint | undefined, string | undefined, string][] = [
    ["an unchanged disk is incremental from the recorded change id", disk("2000"), latest, "52 1a/4", ""],
    ["the first backup is full", disk("2000"), undefined, undefined, "first backup: no previous point"],
    ["a new disk is full", disk("2002"), latest, undefined, "new disk: not in previous point p1"],
    ["a resized disk is full", disk("2000", { capacity: 8 * MiB }), latest, undefined, "disk resized from 4194304 to 8388608 bytes"],
    ["a disk without change tracking is full", disk("2000", { changeTracking: false }), latest, undefined, "change tracking is disabled on the disk"],
    ["a previous point without change id is full", disk("2001"), latest, undefined, "previous point p1 recorded no change id"],
  ];
  for (const [label, d, l, changeId, reason] of cases) {
    it(label, () => {
      const b = diskBase(d, l);
      assert.equal(b.previous?.changeId, changeId);
      assert.equal(b.fullReason, reason);
    });
  }
});

describe("planBackup() shared disks", () => {
  const sharedPath = "C:\\ClusterStorage\\v1\\fs\\quorum.vhdx";
  const node = (name: string, over = {}) =>
    vm(name, {
      hypervisor: "hyperv",
      host: "n1",
      cluster: "c1",
      disks: [
        disk("scsi0:0", { path: `C:\\ClusterStorage\\v1\\${name}.vhdx`, datastore: "v1" }),
        disk("scsi0:1", { path: sharedPath, datastore: "v1", shared: true }),
      ],
      ...over,
    });

  it("makes one object per shared disk, owned by the cluster, read through one VM, listing all", () => {
    const groups = config([{ name: "fs", source: "c1", vms: [{ pattern: "fs-*" }] }]).protectionGroups;
    const p = plan({ groups, inventory: [{ source: "c1", vms: [node("fs-2"), node("fs-1")] }] });
    const id = sharedDiskId("c1", sharedPath);
    assert.equal(p.sharedDisks.length, 1);
    const s = p.sharedDisks[0];
    assert.deepEqual(
      {
        id: s?.id,
        owner: s?.owner,
        vms: s?.vms,
        readVia: s?.readVia,
        protect: s?.protect,
        fullReason: s?.fullReason,
      },
      {
        id,
        owner: "c1",
        vms: ["fs-1", "fs-2"],
        readVia: { vmId: "id-fs-1", diskKey: "scsi0:1" },
        protect: true,
        fullReason: "first backup: no previous point",
      },
    );
    for (const v of p.vms) {
      assert.ok(v.status === "include");
      assert.deepEqual(
        v.disks.map((d) => d.key),
        ["scsi0:0"],
        "the VM's own point leaves the shared disk out",
      );
      assert.deepEqual(v.sharedDisks, [id]);
    }
  });

  it("reads a shared disk through a VM that is backed up, not one that was refused", () => {
    const groups = config([
      {
        name: "fs",
        source: "c1",
        vms: [{ pattern: "fs-*" }],
        policy: { consistency: "require-application" },
      },
    ]).protectionGroups;
    const p = plan({
      groups,
      inventory: [{ source: "c1", vms: [node("fs-1", { tools: "not-installed" }), node("fs-2")] }],
    });
    assert.deepEqual(p.sharedDisks[0]?.readVia, { vmId: "id-fs-2", diskKey: "scsi0:1" });
  });

  // prettier-ignore
  const offered: [string, "all" | "none" | string[], string, string][] = [
    ["a group that protects no shared disks", "none", sharedPath, 'group "fs" protects no shared disks'],
    ["a shared disk the group does not list", ["C:\\other.vhdx"], sharedPath, 'detected, not listed in group "fs" sharedDisks'],
    ["a VHD Set", "all", "C:\\ClusterStorage\\v1\\fs\\data.vhds", 'VHD Set "C:\\ClusterStorage\\v1\\fs\\data.vhds" is not supported'],
  ];
  for (const [label, sharedDisks, path, reason] of offered) {
    it(`offers but does not protect ${label}`, () => {
      const groups = config([
        { name: "fs", source: "c1", vms: [{ pattern: "fs-*" }], sharedDisks },
      ]).protectionGroups;
      const v = node("fs-1", { disks: [disk("scsi0:1", { path, datastore: "v1", shared: true })] });
      const p = plan({ groups, inventory: [{ source: "c1", vms: [v] }] });
      assert.equal(p.sharedDisks[0]?.protect, false);
      assert.ok(p.sharedDisks[0]?.reason.startsWith(reason), p.sharedDisks[0]?.reason);
    });
  }

  it("bases a shared disk's incremental on the shared object's own latest point", () => {
    const groups = config([{ name: "fs", source: "c1", vms: [{ pattern: "fs-*" }] }]).protectionGroups;
    const id = sharedDiskId("c1", sharedPath);
    const latest = new Map([
      [
        id,
        { id: "sp1", takenAt: now, disks: [{ key: SHARED_DISK_KEY, capacity: 4 * MiB, changeId: "rct:7" }] },
      ],
    ]);
    const p = plan({ groups, latest, inventory: [{ source: "c1", vms: [node("fs-1")] }] });
    assert.equal(p.sharedDisks[0]?.parent, "sp1");
    assert.equal(p.sharedDisks[0]?.previous?.changeId, "rct:7");
  });
});

describe("sharedDiskId()", () => {
  it("is a valid repository id for any path, the same for the path in another case, distinct per owner", () => {
    const a = sharedDiskId("c1", "C:\\ClusterStorage\\Volume 1\\Quorum.VHDX");
    assert.match(a, /^shared:c1:[0-9a-f]{16}$/);
    assert.equal(sharedDiskId("c1", "c:\\clusterstorage\\volume 1\\quorum.vhdx"), a);
    assert.notEqual(sharedDiskId("c2", "C:\\ClusterStorage\\Volume 1\\Quorum.VHDX"), a);
    assert.match(sharedDiskId("hv host/1", "x"), /^shared:hv_host_1:[0-9a-f]{16}$/);
  });
});
