/**
 * The adapter against VMware's vcsim over real SOAP/HTTPS: snapshots with CBT enabling and policies,
 * leftovers, hostile job ids, /folder reads (flat and through a redo log), refusals.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { folderUrl } from "../../../adapters/vsphere/disk-reader.js";
import { isSnapvisorError } from "../../../src/domain/errors.js";
import { SNAPSHOT_PREFIX } from "../../../src/domain/hypervisor.js";
import { buildCowd } from "../../disk/esx-delta-files.js";
import { VcsimLab, vmRef } from "./helpers/vcsim-lab.js";

const lab = new VcsimLab();
before(() => lab.start(["-vm", "3"]));
after(() => lab.stop());

describe("vSphere adapter against vcsim: snapshots and disks", () => {
  test("createSnapshot() enables CBT, quiesces when asked, records achieved consistency and is removed cleanly", async () => {
    const vm0 = await lab.vmNamed("DC0_H0_VM0");
    assert.equal(vm0.disks[0]?.changeTracking, false);
    await lab.setProps(vm0, {
      "guest.toolsRunningStatus": "guestToolsRunning",
      "guest.guestFamily": "linuxGuest",
    });
    const vm = await lab.vmNamed("DC0_H0_VM0");
    assert.equal(vm.guestOs, "linux");
    const snap = await lab.session.createSnapshot(vm, {
      jobId: "job-1",
      expected: "filesystem",
      policy: "prefer-application",
      quiesceAttempts: 2,
    });
    assert.equal(snap.name, `${SNAPSHOT_PREFIX}job-1`);
    assert.equal(snap.achieved, "filesystem");
    assert.equal(snap.reason, "");
    assert.equal(snap.disks.length, 1);
    assert.equal(snap.disks[0]?.capacity, 1024 * 1024);
    const after = await lab.vmNamed("DC0_H0_VM0");
    assert.equal(after.disks[0]?.changeTracking, true);
    assert.deepEqual(after.snapshots, [snap.name]);
    // vcsim never sets changeId: the disk is read in full, with the reason.
    const areas = await lab.session.changedAreas(after, snap, snap.disks[0], undefined);
    assert.equal(areas.kind, "full");
    assert.match(areas.kind === "full" ? areas.reason : "", /CBT is not active/);
    await lab.session.removeSnapshot(after, snap);
    assert.deepEqual((await lab.vmNamed("DC0_H0_VM0")).snapshots, []);
  });

  test("require-application fails when only filesystem consistency was reached and leaves no snapshot", async () => {
    const vm = await lab.vmNamed("DC0_H0_VM0");
    await lab.setProps(vm, { "guest.guestFamily": "windowsGuest" });
    const win = await lab.vmNamed("DC0_H0_VM0");
    assert.equal(win.guestOs, "windows");
    await assert.rejects(
      lab.session.createSnapshot(win, {
        jobId: "job-2",
        expected: "application",
        policy: "require-application",
        quiesceAttempts: 1,
      }),
      (e) =>
        isSnapvisorError(e, "VSPHERE_QUIESCE_FAILED") && /filesystem.*VSS backup manifest/.test(e.message),
    );
    assert.deepEqual((await lab.vmNamed("DC0_H0_VM0")).snapshots, []);
    const ok = await lab.session.createSnapshot(win, {
      jobId: "job-3",
      expected: "application",
      policy: "prefer-application",
      quiesceAttempts: 1,
    });
    assert.equal(ok.achieved, "filesystem");
    assert.match(ok.reason, /without a VSS backup manifest/);
    await lab.session.removeSnapshot(win, ok);
  });

  test("removeLeftovers() removes only our snapshots, never a user's look-alike", async () => {
    const vm = await lab.vmNamed("DC0_H0_VM1");
    await lab.task("CreateSnapshot_Task", {
      _this: vmRef(vm),
      name: `${SNAPSHOT_PREFIX}by-user`,
      description: "user's own",
      memory: false,
      quiesce: false,
    });
    await lab.session.createSnapshot(vm, {
      jobId: "old-job",
      expected: "crash",
      policy: "crash-only",
      quiesceAttempts: 1,
    });
    await lab.task("CreateSnapshot_Task", {
      _this: vmRef(vm),
      name: "before upgrade",
      memory: false,
      quiesce: false,
    });
    const removed = await lab.session.removeLeftovers(await lab.vmNamed("DC0_H0_VM1"));
    assert.deepEqual(removed, [`${SNAPSHOT_PREFIX}old-job`]);
    assert.deepEqual([...(await lab.vmNamed("DC0_H0_VM1")).snapshots].sort(), [
      "before upgrade",
      `${SNAPSHOT_PREFIX}by-user`,
    ]);
  });

  test("a hostile job id round-trips in the snapshot name and its leftover is still found and removed", async () => {
    const vm = await lab.vmNamed("DC0_C0_RP0_VM2");
    const jobId = `<a&b> "q" 'x' ü 😀`;
    const snap = await lab.session.createSnapshot(vm, {
      jobId,
      expected: "crash",
      policy: "crash-only",
      quiesceAttempts: 1,
    });
    assert.equal(snap.name, `${SNAPSHOT_PREFIX}${jobId}`);
    assert.deepEqual((await lab.vmNamed("DC0_C0_RP0_VM2")).snapshots, [snap.name]);
    assert.deepEqual(await lab.session.removeLeftovers(vm), [snap.name]);
    assert.deepEqual((await lab.vmNamed("DC0_C0_RP0_VM2")).snapshots, []);
  });

  test("openDisk() reads the snapshot's flat extent over /folder with Range, byte for byte", async () => {
    const vm = await lab.vmNamed("DC0_C0_RP0_VM0");
    const disk = vm.disks[0]!;
    const dir = disk.path.replace(/^\[[^\]]+\] /, "").replace(/\/[^/]*$/, "");
    const flat = randomBytes(disk.capacity);
    const descriptor = `# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="vmfs"\nRW ${disk.capacity / 512} VMFS "disk1-flat.vmdk"\n`;
    const put = async (file: string, body: string | Buffer) => {
      const res = await lab.session.client.transport.request({
        method: "PUT",
        path: folderUrl({ datastore: "LocalDS_0", path: `${dir}/${file}` }, "DC0"),
        body,
      });
      assert.ok(res.status < 300, `PUT ${file}: ${res.status}`);
    };
    await put("disk1.vmdk", descriptor);
    await put("disk1-flat.vmdk", flat);
    const snap = await lab.session.createSnapshot(vm, {
      jobId: "read-1",
      expected: "crash",
      policy: "crash-only",
      quiesceAttempts: 1,
    });
    const source = await lab.session.openDisk(vm, snap, disk.key);
    assert.equal(source.capacity, disk.capacity);
    const whole = new Uint8Array(disk.capacity);
    assert.equal(await source.read(whole, 0), disk.capacity);
    assert.deepEqual(Buffer.from(whole), flat);
    const odd = new Uint8Array(777);
    assert.equal(await source.read(odd, 12345), 777);
    assert.deepEqual(Buffer.from(odd), flat.subarray(12345, 12345 + 777));
    const tail = new Uint8Array(100);
    assert.equal(await source.read(tail, disk.capacity - 10), 10);
    await source.close();
    await lab.session.removeSnapshot(vm, snap);
  });

  test("openDisk() reads through a user snapshot's VMFSsparse redo log down to the base disk", async () => {
    const vm = await lab.vmNamed("DC0_C0_RP0_VM1");
    const disk = vm.disks[0]!;
    const sectors = disk.capacity / 512;
    const base = randomBytes(disk.capacity);
    const grains = new Map<number, Uint8Array>([
      [0, randomBytes(512)],
      [777, randomBytes(512)],
      [sectors - 1, randomBytes(512)],
    ]);
    const expected = Buffer.from(base);
    for (const [sector, bytes] of grains) expected.set(bytes, sector * 512);
    const put = async (file: string, body: string | Buffer) => {
      const res = await lab.session.client.transport.request({
        method: "PUT",
        path: folderUrl({ datastore: "LocalDS_0", path: `DC0_C0_RP0_VM1/${file}` }, "DC0"),
        body,
      });
      assert.ok(res.status < 300, `PUT ${file}: ${res.status}`);
    };
    // The snapshot's backing (disk1.vmdk) is the user's delta; its parent is the base disk.
    await put(
      "base.vmdk",
      `# Disk DescriptorFile\nversion=1\nCID=0badc0de\nparentCID=ffffffff\ncreateType="vmfs"\nRW ${sectors} VMFS "base-flat.vmdk"\n`,
    );
    await put("base-flat.vmdk", base);
    await put(
      "disk1.vmdk",
      `# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=0badc0de\nparentFileNameHint="base.vmdk"\ncreateType="vmfsSparse"\nRW ${sectors} VMFSSPARSE "disk1-delta.vmdk"\n`,
    );
    await put("disk1-delta.vmdk", buildCowd(sectors, grains));
    const snap = await lab.session.createSnapshot(vm, {
      jobId: "read-2",
      expected: "crash",
      policy: "crash-only",
      quiesceAttempts: 1,
    });
    const source = await lab.session.openDisk(vm, snap, disk.key);
    const all = new Uint8Array(disk.capacity);
    assert.equal(await source.read(all, 0), disk.capacity);
    assert.ok(Buffer.from(all).equals(expected));
    await source.close();
    await lab.session.removeSnapshot(vm, snap);
  });

  test("openDisk() refuses a vSAN delta with VSPHERE_DISK_UNSUPPORTED", async () => {
    const vm = await lab.vmNamed("DC0_C0_RP0_VM1");
    await lab.session.client.transport.request({
      method: "PUT",
      path: folderUrl({ datastore: "LocalDS_0", path: "DC0_C0_RP0_VM1/disk1.vmdk" }, "DC0"),
      body: `# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=0badc0de\nparentFileNameHint="base.vmdk"\ncreateType="vsanSparse"\nRW 2048 VSANSPARSE "vsan://52a1"\n`,
    });
    const snap = await lab.session.createSnapshot(vm, {
      jobId: "read-3",
      expected: "crash",
      policy: "crash-only",
      quiesceAttempts: 1,
    });
    await assert.rejects(lab.session.openDisk(vm, snap, vm.disks[0]!.key), (e) =>
      isSnapvisorError(e, "VSPHERE_DISK_UNSUPPORTED"),
    );
    await lab.session.removeSnapshot(vm, snap);
  });
});
