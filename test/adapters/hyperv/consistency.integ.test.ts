import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { decideConsistency } from "../../../src/domain/consistency.js";
import type { VmInfo } from "../../../src/domain/hypervisor.js";
import { TRANSPORTS, startLab, type Lab } from "./harness.js";

/** The lab scenario's VMs: Integration Services x power state x last shutdown, as VmInfo must show them. */
const TABLE: ReadonlyArray<{
  vm: string;
  power: VmInfo["power"];
  tools: VmInfo["tools"];
  lastShutdown: VmInfo["lastShutdown"];
  expected: "application" | "filesystem" | "crash";
}> = [
  { vm: "sql-01", power: "on", tools: "running", lastShutdown: "unknown", expected: "application" },
  { vm: "web-02", power: "on", tools: "not-installed", lastShutdown: "unknown", expected: "crash" },
  { vm: "app-03", power: "off", tools: "not-running", lastShutdown: "clean", expected: "application" },
  { vm: "app-04", power: "off", tools: "not-running", lastShutdown: "dirty", expected: "crash" },
  { vm: "legacy-05", power: "off", tools: "not-running", lastShutdown: "clean", expected: "application" },
  { vm: "legacy-06", power: "off", tools: "not-running", lastShutdown: "dirty", expected: "crash" },
  { vm: "vssoff-07", power: "on", tools: "not-running", lastShutdown: "unknown", expected: "crash" },
  { vm: "lin-08", power: "on", tools: "running", lastShutdown: "unknown", expected: "filesystem" },
  { vm: "saved-09", power: "saved", tools: "not-running", lastShutdown: "unknown", expected: "crash" },
  { vm: "nolog-10", power: "off", tools: "not-running", lastShutdown: "unknown", expected: "crash" },
];

for (const kind of TRANSPORTS) {
  describe(`consistency facts through the ${kind} transport`, () => {
    let lab: Lab;
    let vms: readonly VmInfo[];
    before(async () => {
      lab = await startLab();
      vms = await lab.session(kind).inventory();
    });
    after(async () => lab.close());

    for (const row of TABLE) {
      it(`${row.vm}: power ${row.power}, tools ${row.tools}, last shutdown ${row.lastShutdown} -> ${row.expected}`, () => {
        const v = vms.find((x) => x.name === row.vm);
        assert.ok(v);
        assert.equal(v.power, row.power);
        assert.equal(v.tools, row.tools, v.toolsDetail);
        assert.equal(v.lastShutdown, row.lastShutdown, v.lastShutdownDetail);
        assert.equal(decideConsistency(v, "prefer-application").expected, row.expected);
      });
    }

    it("names the halt event behind a shutdown kind, and a start without a halt as dirty", async () => {
      const app03 = vms.find((x) => x.name === "app-03");
      assert.match(app03?.lastShutdownDetail ?? "", /guest operating system \(18508\)/);
      lab.sim.control.setPower("sql-01", "Off");
      lab.sim.model.addHaltEvent(lab.sim.control.vm("sql-01"), 18601);
      const sql = (await lab.session(kind).inventory()).find((x) => x.name === "sql-01");
      assert.equal(sql?.lastShutdown, "dirty");
      assert.match(sql?.lastShutdownDetail ?? "", /start \(18601\).*no halt event/);
    });

    it("reads the guest OS from KVP and the disks with their CSV and RCT capability", () => {
      const sql = vms.find((x) => x.name === "sql-01");
      assert.equal(sql?.guestOs, "windows");
      assert.equal(sql?.cluster, "HVCLU01");
      assert.deepEqual(
        sql?.disks.map((d) => [d.key, d.datastore, d.changeTracking, d.shared]),
        [
          ["scsi0:0", "C:\\ClusterStorage\\Volume1", true, false],
          ["scsi0:1", "C:\\ClusterStorage\\Volume1", true, false],
        ],
      );
    });
  });
}
