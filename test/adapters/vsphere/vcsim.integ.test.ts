/**
 * The adapter against VMware's own simulator (vcsim, vCenter model) over real SOAP/HTTPS: login,
 * TLS policies, inventory, hostile names, snapshots and leftovers, CBT enabling, shutdown evidence
 * from events, /folder Range reads, session expiry.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import tls from "node:tls";
import { connectVsphere, type VsphereSession } from "../../../adapters/vsphere/index.js";
import { folderUrl } from "../../../adapters/vsphere/disk-reader.js";
import { runTask } from "../../../adapters/vsphere/waiters.js";
import type { SoapValue } from "../../../adapters/vsphere/soap/envelope.js";
import { isSnapvisorError } from "../../../src/domain/errors.js";
import { SNAPSHOT_PREFIX, type VmInfo } from "../../../src/domain/hypervisor.js";
import { captureLogger } from "./helpers/logs.js";
import { buildCowd } from "../../disk/esx-delta-files.js";
import { startVcsim, type Vcsim } from "./helpers/vcsim.js";

const PASSWORD = `s3cr3t <&> "pw" ü`;
const clock = { now: () => new Date(0) };
const noSleep = async () => {};

let sim: Vcsim;
let session: VsphereSession;
const logger = captureLogger();

function connect(overrides: Record<string, unknown> = {}, log = logger) {
  return connectVsphere(
    {
      url: sim.url,
      username: sim.username,
      password: PASSWORD,
      tls: { insecure: true },
      quiesceRetryDelayMs: 0,
      ...overrides,
    },
    { logger: log, clock, sleep: noSleep },
  );
}

async function task(method: string, args: Record<string, SoapValue>) {
  return runTask(session.client, method, args, "test", { clock, sleep: noSleep, timeoutMs: 10_000 });
}

const vmRef = (vm: VmInfo) => ({ type: "VirtualMachine", value: vm.ref });

async function vmNamed(name: string): Promise<VmInfo> {
  const vm = (await session.inventory()).find((v) => v.name === name);
  assert.ok(vm, `VM ${name} in inventory`);
  return vm;
}

async function setProps(vm: VmInfo, props: Record<string, string>) {
  await task("ReconfigVM_Task", {
    _this: vmRef(vm),
    spec: {
      _type: "VirtualMachineConfigSpec",
      extraConfig: Object.entries(props).map(([key, value]) => ({
        _type: "OptionValue",
        key: `SET.${key}`,
        value,
      })),
    },
  });
}

before(async () => {
  sim = await startVcsim(["-vm", "3"], PASSWORD);
  session = await connect();
});

after(async () => {
  await session?.close();
  await sim?.stop();
});

describe("vSphere adapter against vcsim", () => {
  test("connect() logs in, warns about insecure TLS and never logs the password", async () => {
    assert.ok(logger.records.some((r) => r.level === "warn" && /TLS verification is OFF/.test(r.msg ?? "")));
    assert.equal(logger.text().includes("s3cr3t"), false);
  });

  test("connect() refuses a wrong password with VSPHERE_INVALID_LOGIN and does not log it", async () => {
    const log = captureLogger();
    await assert.rejects(
      connectVsphere(
        { url: sim.url, username: sim.username, password: "wrong-pw-123", tls: { insecure: true } },
        { logger: log },
      ),
      (e) => isSnapvisorError(e, "VSPHERE_INVALID_LOGIN"),
    );
    assert.equal(log.text().includes("wrong-pw-123"), false);
  });

  test("TLS is verified by default: vcsim's self-signed certificate is refused with VSPHERE_TLS_UNTRUSTED", async () => {
    await assert.rejects(connect({ tls: {} }), (e) => isSnapvisorError(e, "VSPHERE_TLS_UNTRUSTED"));
  });

  test("a pinned SHA-256 or SHA-1 thumbprint is accepted when it matches and refused when it does not", async () => {
    const { port } = new URL(sim.origin);
    const cert = await new Promise<tls.PeerCertificate>((resolve, reject) => {
      const s = tls.connect({ host: "127.0.0.1", port: Number(port), rejectUnauthorized: false }, () => {
        resolve(s.getPeerCertificate());
        s.end();
      });
      s.once("error", reject);
    });
    const fingerprint = cert.fingerprint256;
    for (const thumbprint of [fingerprint, cert.fingerprint]) {
      const pinned = await connect({ tls: { thumbprint } });
      assert.ok((await pinned.inventory()).length > 0);
      await pinned.close();
    }
    const wrong = fingerprint.replace(/^../, fingerprint.startsWith("00") ? "11" : "00");
    await assert.rejects(connect({ tls: { thumbprint: wrong } }), (e) =>
      isSnapvisorError(e, "VSPHERE_TLS_UNTRUSTED"),
    );
  });

  test("inventory() lists every VM with host, cluster, power, tools and disks in three round trips", async () => {
    const before = logger.records.filter((r) => r.msg === "vSphere call").length;
    const vms = await session.inventory();
    const calls = logger.records.filter((r) => r.msg === "vSphere call").slice(before);
    assert.deepEqual(
      calls.map((r) => (r.obj as { method: string }).method),
      ["CreateContainerView", "RetrievePropertiesEx", "DestroyView"],
    );
    assert.equal(vms.length, 6);
    const vm = vms.find((v) => v.name === "DC0_C0_RP0_VM0");
    assert.ok(vm);
    assert.equal(vm.hypervisor, "vsphere");
    assert.match(vm.ref, /^vm-/);
    assert.match(vm.id, /^[0-9a-f-]{36}$/);
    assert.equal(vm.power, "on");
    assert.equal(vm.cluster, "DC0_C0");
    assert.match(vm.host, /^DC0_C0_H\d$/);
    assert.equal(vm.tools, "not-installed");
    assert.equal(vm.disks.length, 1);
    assert.equal(vm.disks[0]?.capacity, 1024 * 1024);
    assert.equal(vm.disks[0]?.datastore, "LocalDS_0");
    assert.match(vm.disks[0]?.path ?? "", /^\[LocalDS_0\] DC0_C0_RP0_VM0\/disk1\.vmdk$/);
    const standalone = vms.find((v) => v.name === "DC0_H0_VM0");
    assert.equal(standalone?.cluster, undefined);
    assert.equal(standalone?.host, "DC0_H0");
  });

  test("tools states set through vcsim are read as running / not-running", async () => {
    const vm = await vmNamed("DC0_H0_VM1");
    await setProps(vm, {
      "guest.toolsRunningStatus": "guestToolsRunning",
      "guest.toolsVersionStatus2": "guestToolsCurrent",
    });
    assert.equal((await vmNamed("DC0_H0_VM1")).tools, "running");
    await setProps(vm, { "guest.toolsRunningStatus": "guestToolsNotRunning" });
    const stopped = await vmNamed("DC0_H0_VM1");
    assert.equal(stopped.tools, "not-running");
    assert.match(stopped.toolsDetail, /guestToolsNotRunning/);
  });

  test("hostile VM names round-trip exactly through Rename_Task and inventory", async () => {
    const vm = await vmNamed("DC0_H0_VM2");
    for (const name of [`<a&b>`, `"double" 'single' quotes`, `ünïcødé 名前 😀`, `]]> &amp; &#38; \\ /`]) {
      await task("Rename_Task", { _this: vmRef(vm), newName: name });
      const found = (await session.inventory()).find((v) => v.ref === vm.ref);
      assert.equal(found?.name, name);
    }
    await task("Rename_Task", { _this: vmRef(vm), newName: "DC0_H0_VM2" });
  });

  test("a hard power-off is dirty and a guest shutdown is clean, from vCenter events", async () => {
    const hard = await vmNamed("DC0_C0_RP0_VM1");
    await task("PowerOffVM_Task", { _this: vmRef(hard) });
    const soft = await vmNamed("DC0_C0_RP0_VM2");
    await session.client.call("ShutdownGuest", { _this: vmRef(soft) });
    const vms = await session.inventory();
    const h = vms.find((v) => v.ref === hard.ref);
    const s = vms.find((v) => v.ref === soft.ref);
    assert.equal(h?.power, "off");
    assert.equal(h?.lastShutdown, "dirty");
    assert.match(h?.lastShutdownDetail ?? "", /without a guest shutdown/);
    assert.equal(s?.lastShutdown, "clean");
    assert.match(s?.lastShutdownDetail ?? "", /VmGuestShutdownEvent/);
    await task("PowerOnVM_Task", { _this: vmRef(hard) });
    assert.equal((await vmNamed("DC0_C0_RP0_VM1")).lastShutdown, "unknown");
  });

  test("createSnapshot() enables CBT, quiesces when asked, records achieved consistency and is removed cleanly", async () => {
    const vm0 = await vmNamed("DC0_H0_VM0");
    assert.equal(vm0.disks[0]?.changeTracking, false);
    await setProps(vm0, {
      "guest.toolsRunningStatus": "guestToolsRunning",
      "guest.guestFamily": "linuxGuest",
    });
    const vm = await vmNamed("DC0_H0_VM0");
    assert.equal(vm.guestOs, "linux");
    const snap = await session.createSnapshot(vm, {
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
    const after = await vmNamed("DC0_H0_VM0");
    assert.equal(after.disks[0]?.changeTracking, true);
    assert.deepEqual(after.snapshots, [snap.name]);
    // vcsim never sets changeId: the disk is read in full, with the reason.
    const areas = await session.changedAreas(after, snap, snap.disks[0], undefined);
    assert.equal(areas.kind, "full");
    assert.match(areas.kind === "full" ? areas.reason : "", /CBT is not active/);
    await session.removeSnapshot(after, snap);
    assert.deepEqual((await vmNamed("DC0_H0_VM0")).snapshots, []);
  });

  test("require-application fails when only filesystem consistency was reached and leaves no snapshot", async () => {
    const vm = await vmNamed("DC0_H0_VM0");
    await setProps(vm, { "guest.guestFamily": "windowsGuest" });
    const win = await vmNamed("DC0_H0_VM0");
    assert.equal(win.guestOs, "windows");
    await assert.rejects(
      session.createSnapshot(win, {
        jobId: "job-2",
        expected: "application",
        policy: "require-application",
        quiesceAttempts: 1,
      }),
      (e) =>
        isSnapvisorError(e, "VSPHERE_QUIESCE_FAILED") && /filesystem.*VSS backup manifest/.test(e.message),
    );
    assert.deepEqual((await vmNamed("DC0_H0_VM0")).snapshots, []);
    const ok = await session.createSnapshot(win, {
      jobId: "job-3",
      expected: "application",
      policy: "prefer-application",
      quiesceAttempts: 1,
    });
    assert.equal(ok.achieved, "filesystem");
    assert.match(ok.reason, /without a VSS backup manifest/);
    await session.removeSnapshot(win, ok);
  });

  test("removeLeftovers() removes only our snapshots, never a user's look-alike", async () => {
    const vm = await vmNamed("DC0_H0_VM1");
    await task("CreateSnapshot_Task", {
      _this: vmRef(vm),
      name: `${SNAPSHOT_PREFIX}by-user`,
      description: "user's own",
      memory: false,
      quiesce: false,
    });
    await session.createSnapshot(vm, {
      jobId: "old-job",
      expected: "crash",
      policy: "crash-only",
      quiesceAttempts: 1,
    });
    await task("CreateSnapshot_Task", {
      _this: vmRef(vm),
      name: "before upgrade",
      memory: false,
      quiesce: false,
    });
    const removed = await session.removeLeftovers(await vmNamed("DC0_H0_VM1"));
    assert.deepEqual(removed, [`${SNAPSHOT_PREFIX}old-job`]);
    assert.deepEqual([...(await vmNamed("DC0_H0_VM1")).snapshots].sort(), [
      "before upgrade",
      `${SNAPSHOT_PREFIX}by-user`,
    ]);
  });

  test("a hostile job id round-trips in the snapshot name and its leftover is still found and removed", async () => {
    const vm = await vmNamed("DC0_C0_RP0_VM2");
    const jobId = `<a&b> "q" 'x' ü 😀`;
    const snap = await session.createSnapshot(vm, {
      jobId,
      expected: "crash",
      policy: "crash-only",
      quiesceAttempts: 1,
    });
    assert.equal(snap.name, `${SNAPSHOT_PREFIX}${jobId}`);
    assert.deepEqual((await vmNamed("DC0_C0_RP0_VM2")).snapshots, [snap.name]);
    assert.deepEqual(await session.removeLeftovers(vm), [snap.name]);
    assert.deepEqual((await vmNamed("DC0_C0_RP0_VM2")).snapshots, []);
  });

  test("openDisk() reads the snapshot's flat extent over /folder with Range, byte for byte", async () => {
    const vm = await vmNamed("DC0_C0_RP0_VM0");
    const disk = vm.disks[0]!;
    const dir = disk.path.replace(/^\[[^\]]+\] /, "").replace(/\/[^/]*$/, "");
    const flat = randomBytes(disk.capacity);
    const descriptor = `# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="vmfs"\nRW ${disk.capacity / 512} VMFS "disk1-flat.vmdk"\n`;
    const put = async (file: string, body: string | Buffer) => {
      const res = await session.client.transport.request({
        method: "PUT",
        path: folderUrl({ datastore: "LocalDS_0", path: `${dir}/${file}` }, "DC0"),
        body,
      });
      assert.ok(res.status < 300, `PUT ${file}: ${res.status}`);
    };
    await put("disk1.vmdk", descriptor);
    await put("disk1-flat.vmdk", flat);
    const snap = await session.createSnapshot(vm, {
      jobId: "read-1",
      expected: "crash",
      policy: "crash-only",
      quiesceAttempts: 1,
    });
    const source = await session.openDisk(vm, snap, disk.key);
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
    await session.removeSnapshot(vm, snap);
  });

  test("openDisk() reads through a user snapshot's VMFSsparse redo log down to the base disk", async () => {
    const vm = await vmNamed("DC0_C0_RP0_VM1");
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
      const res = await session.client.transport.request({
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
    const snap = await session.createSnapshot(vm, {
      jobId: "read-2",
      expected: "crash",
      policy: "crash-only",
      quiesceAttempts: 1,
    });
    const source = await session.openDisk(vm, snap, disk.key);
    const all = new Uint8Array(disk.capacity);
    assert.equal(await source.read(all, 0), disk.capacity);
    assert.ok(Buffer.from(all).equals(expected));
    await source.close();
    await session.removeSnapshot(vm, snap);
  });

  test("openDisk() refuses a vSAN delta with VSPHERE_DISK_UNSUPPORTED", async () => {
    const vm = await vmNamed("DC0_C0_RP0_VM1");
    await session.client.transport.request({
      method: "PUT",
      path: folderUrl({ datastore: "LocalDS_0", path: "DC0_C0_RP0_VM1/disk1.vmdk" }, "DC0"),
      body: `# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=0badc0de\nparentFileNameHint="base.vmdk"\ncreateType="vsanSparse"\nRW 2048 VSANSPARSE "vsan://52a1"\n`,
    });
    const snap = await session.createSnapshot(vm, {
      jobId: "read-3",
      expected: "crash",
      policy: "crash-only",
      quiesceAttempts: 1,
    });
    await assert.rejects(session.openDisk(vm, snap, vm.disks[0]!.key), (e) =>
      isSnapvisorError(e, "VSPHERE_DISK_UNSUPPORTED"),
    );
    await session.removeSnapshot(vm, snap);
  });

  test("an expired session is renewed once by logging in again", async () => {
    await session.client.call("Logout", { _this: session.client.content.sessionManager });
    const vms = await session.inventory();
    assert.equal(vms.length, 6);
  });
});

describe("vSphere adapter against vcsim in ESXi mode", () => {
  test("inventory() works on a standalone host without event history (unknown shutdown kind)", async () => {
    const esx = await startVcsim(["-esx", "-autostart=false"], "pw");
    try {
      const s = await connectVsphere(
        { url: esx.url, username: esx.username, password: "pw", tls: { insecure: true } },
        { clock, sleep: noSleep },
      );
      const vms = await s.inventory();
      assert.equal(vms.length, 2);
      assert.deepEqual(
        vms.map((v) => [v.power, v.lastShutdown, v.host]),
        vms.map(() => ["off", "unknown", "localhost.localdomain"]),
      );
      await s.close();
    } finally {
      await esx.stop();
    }
  });
});
