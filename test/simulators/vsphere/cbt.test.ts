import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ChangeTracker, extentsFrom } from "../../../simulators/vsphere/cbt.js";
import { kid, kids, ref, refXml, textAt, xsiType, type Ref } from "../../support/vim-soap-client.js";
import { runTask, scenario, snapshotArgs, startLab, vmSpec, type Lab } from "./helpers.js";

const K = 65536;

describe("ChangeTracker (pure CBT model)", () => {
  const all = () => new Uint8Array(16);

  it("reports the blocks written between two points, at block granularity", () => {
    const t = new ChangeTracker(16 * K, K, "52 aa");
    const p1 = t.point();
    t.markWrite(K + 10, 100);
    t.markWrite(5 * K, 2 * K);
    const p2 = t.point();
    t.markWrite(9 * K, 1);
    const r = t.query(p1, p2, 0, 100, all);
    assert.ok(r.ok);
    assert.deepEqual(r.answer.extents, [
      { start: K, length: K },
      { start: 5 * K, length: 2 * K },
    ]);
    assert.equal(r.answer.length, 16 * K);
  });

  it("never under-reports a block written twice across points", () => {
    const t = new ChangeTracker(16 * K, K, "52 aa");
    const p1 = t.point();
    t.markWrite(3 * K, K);
    const p2 = t.point();
    t.markWrite(3 * K, K); // written again after p2: still changed between p1 and p2
    const r = t.query(p1, p2, 0, 100, all);
    assert.ok(r.ok);
    assert.deepEqual(r.answer.extents, [{ start: 3 * K, length: K }]);
  });

  it("rejects a changeId of another tracking uuid, one never handed out, or a malformed one", () => {
    const t = new ChangeTracker(16 * K, K, "52 aa");
    const p = t.point();
    for (const bad of ["52 bb/1", "52 aa/9", "garbage"]) {
      const r = t.query(bad, p, 0, 10, all);
      assert.equal(r.ok, false, bad);
    }
    t.reset("52 cc");
    assert.equal(t.query(p, t.point(), 0, 10, all).ok, false, "an old changeId after a reset");
  });

  it("pages by extent count: length stops at the next changed block", () => {
    const map = new Uint8Array([0b1010_0101]);
    const a = extentsFrom(map, K, 8 * K, 0, 2);
    assert.deepEqual(a.extents, [
      { start: 0, length: K },
      { start: 2 * K, length: K },
    ]);
    assert.equal(a.length, 5 * K);
    const b = extentsFrom(map, K, 8 * K, a.startOffset + a.length, 2);
    assert.deepEqual(b.extents, [
      { start: 5 * K, length: K },
      { start: 7 * K, length: K },
    ]);
    assert.equal(b.startOffset + b.length, 8 * K);
  });

  it("clips the first extent to an unaligned startOffset and the last to the capacity", () => {
    const a = extentsFrom(new Uint8Array([0b11]), K, K + 512, 100, 10);
    assert.deepEqual(a.extents, [{ start: 100, length: K + 412 }]);
  });
});

describe("vSphere simulator CBT over SOAP", () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab(
      scenario(
        [
          vmSpec("db", {
            changeTracking: true,
            disks: [{ capacity: "4MiB", datastore: "ds1", data: [{ offset: 0, length: "256KiB", seed: 5 }] }],
          }),
          vmSpec("late-cbt"),
          vmSpec("off-cbt", { power: "off", lastShutdown: "guest-shutdown" }),
        ],
        { options: { maxObjectsPerPage: 100, cbtMaxExtentsPerCall: 2, cbtBlockSize: K } },
      ),
    );
  });
  after(() => lab.stop());

  async function snap(vm: Ref, name: string) {
    const info = await runTask(lab, "CreateSnapshot_Task", vm, snapshotArgs(name, false));
    assert.equal(textAt(info, "state"), "success");
    const s = ref(kid(info, "result"));
    const devices = await lab.prop(s, "config.hardware.device");
    const disk = kids(devices, "VirtualDevice").find((d) => xsiType(d) === "VirtualDisk");
    return {
      snap: s,
      changeId: textAt(disk, "backing", "changeId"),
      fileName: textAt(disk, "backing", "fileName"),
    };
  }

  async function changed(vm: Ref, s: Ref, changeId: string) {
    const extents: { start: number; length: number }[] = [];
    let offset = 0;
    let calls = 0;
    while (offset < 4 * 1024 * 1024) {
      const r = await lab.client.call(
        "QueryChangedDiskAreas",
        vm,
        `${refXml("snapshot", s)}<deviceKey>2000</deviceKey><startOffset>${offset}</startOffset><changeId>${changeId}</changeId>`,
      );
      if (!r.ok) return { fault: r.faultType, message: r.faultString, extents, calls };
      const info = kid(r.body, "returnval");
      assert.equal(Number(textAt(info, "startOffset")), offset);
      for (const e of kids(info, "changedArea"))
        extents.push({ start: Number(textAt(e, "start")), length: Number(textAt(e, "length")) });
      offset += Number(textAt(info, "length"));
      calls++;
    }
    return { fault: undefined, message: "", extents, calls };
  }

  async function write(vm: string, offset: number, length: number, seed: number) {
    const r = await lab.control("POST", `/vms/${vm}/write`, { disk: 2000, offset, length, seed });
    assert.equal(r.status, 200, JSON.stringify(r.json));
  }

  it("answers * with the allocated areas, then exactly the blocks written between two snapshots, paged", async () => {
    const vm = await lab.vm("db");
    const s1 = await snap(vm, "b1");
    assert.match(s1.changeId ?? "", /^52 [0-9a-f ]+-[0-9a-f ]+\/\d+$/);
    const full = await changed(vm, s1.snap, "*");
    assert.deepEqual(full.extents, [{ start: 0, length: 256 * 1024 }]);
    await runTask(lab, "RemoveSnapshot_Task", s1.snap, "<removeChildren>false</removeChildren>");
    await write("db", 1024 * 1024, 4096, 1);
    await write("db", 3 * 1024 * 1024 + 512, 512, 2);
    await write("db", 2 * 1024 * 1024, 512, 3);
    const s2 = await snap(vm, "b2");
    const inc = await changed(vm, s2.snap, s1.changeId!);
    assert.equal(inc.fault, undefined, inc.message);
    assert.deepEqual(inc.extents, [
      { start: 1024 * 1024, length: K },
      { start: 2 * 1024 * 1024, length: K },
      { start: 3 * 1024 * 1024, length: K },
    ]);
    assert.equal(inc.calls, 2, "two extents per call: the third comes on a second page");
    await runTask(lab, "RemoveSnapshot_Task", s2.snap, "<removeChildren>false</removeChildren>");
  });

  it("never misses a guest write across many snapshots (over-report allowed)", async () => {
    const vm = await lab.vm("db");
    const base = await snap(vm, "base");
    await runTask(lab, "RemoveSnapshot_Task", base.snap, "<removeChildren>false</removeChildren>");
    const writes: [number, number][] = [];
    let x = 7;
    for (let i = 0; i < 20; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const offset = (x % 8000) * 512;
      writes.push([offset, 512 * (1 + (x % 7))]);
      await write("db", offset, 512 * (1 + (x % 7)), i);
      if (i % 6 === 5) {
        const mid = await snap(vm, `mid-${i}`);
        await runTask(lab, "RemoveSnapshot_Task", mid.snap, "<removeChildren>false</removeChildren>");
      }
    }
    const end = await snap(vm, "end");
    const r = await changed(vm, end.snap, base.changeId!);
    assert.equal(r.fault, undefined, r.message);
    for (const [o, l] of writes) {
      for (let b = o; b < o + l; b += 512) {
        assert.ok(
          r.extents.some((e) => e.start <= b && b < e.start + e.length),
          `write at ${b} is reported`,
        );
      }
    }
    await runTask(lab, "RemoveSnapshot_Task", end.snap, "<removeChildren>false</removeChildren>");
  });

  it("faults FileFault for a changeId from before a CBT reset, while * still works", async () => {
    const vm = await lab.vm("db");
    const before = await snap(vm, "pre-reset");
    await runTask(lab, "RemoveSnapshot_Task", before.snap, "<removeChildren>false</removeChildren>");
    assert.equal((await lab.control("POST", "/vms/db/cbt-reset", {})).status, 200);
    const s = await snap(vm, "post-reset");
    assert.notEqual(s.changeId?.split("/")[0], before.changeId?.split("/")[0], "the uuid part changed");
    const r = await changed(vm, s.snap, before.changeId!);
    assert.equal(r.fault, "FileFault");
    assert.match(r.message, /ctk\.vmdk/);
    assert.equal((await changed(vm, s.snap, "*")).fault, undefined);
    await runTask(lab, "RemoveSnapshot_Task", s.snap, "<removeChildren>false</removeChildren>");
  });

  it("starts tracking of a running VM at the next stun: the first snapshot has no changeId", async () => {
    const vm = await lab.vm("late-cbt");
    const rc = await runTask(
      lab,
      "ReconfigVM_Task",
      vm,
      "<spec><changeTrackingEnabled>true</changeTrackingEnabled></spec>",
    );
    assert.equal(textAt(rc, "state"), "success");
    assert.equal((await lab.prop(vm, "config.changeTrackingEnabled"))?.text, "true");
    const first = await snap(vm, "stun");
    assert.equal(first.changeId, undefined);
    const q = await changed(vm, first.snap, "*");
    assert.equal(q.fault, "FileFault");
    await runTask(lab, "RemoveSnapshot_Task", first.snap, "<removeChildren>false</removeChildren>");
    const second = await snap(vm, "tracked");
    assert.ok(second.changeId);
    assert.equal((await changed(vm, second.snap, "*")).fault, undefined);
  });

  it("activates CBT on a powered-off VM at once and answers queries without a snapshot", async () => {
    const vm = await lab.vm("off-cbt");
    await runTask(
      lab,
      "ReconfigVM_Task",
      vm,
      "<spec><changeTrackingEnabled>true</changeTrackingEnabled></spec>",
    );
    const r = await lab.client.call(
      "QueryChangedDiskAreas",
      vm,
      "<deviceKey>2000</deviceKey><startOffset>0</startOffset><changeId>*</changeId>",
    );
    assert.ok(r.ok, !r.ok ? r.faultString : "");
    assert.equal(textAt(kid(r.body, "returnval"), "changedArea", "length"), String(256 * 1024));
    const bad = await lab.client.call(
      "QueryChangedDiskAreas",
      vm,
      "<deviceKey>42</deviceKey><startOffset>0</startOffset><changeId>*</changeId>",
    );
    assert.ok(!bad.ok);
    assert.equal(bad.faultType, "InvalidArgument");
  });
});
