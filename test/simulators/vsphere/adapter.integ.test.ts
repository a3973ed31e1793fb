/**
 * The vSphere adapter (adapters/vsphere) driven against the simulator over real SOAP/HTTPS and SSH:
 * full and incremental reads that equal the simulated disk at snapshot time byte for byte, every
 * consistency case, and the fault rules ending in a coded error or the documented fallback, with no
 * snapshot of ours left behind.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectVsphere } from "../../../adapters/vsphere/index.js";
import type { VsphereSession } from "../../../adapters/vsphere/session.js";
import { isSnapvisorError } from "../../../src/domain/errors.js";
import type { BackupSnapshot, SnapshotRequest, VmInfo } from "../../../src/domain/hypervisor.js";
import { PASSWORD, scenario, startLab, USER, vmSpec, type Lab } from "./helpers.js";

const MiB = 1024 * 1024;
const LINUX = { id: "rhel8_64Guest", fullName: "Red Hat Enterprise Linux 8 (64-bit)" };
const noWait = () => new Promise<void>((resolve) => setImmediate(resolve));
const request = (over: Partial<SnapshotRequest> = {}): SnapshotRequest => ({
  jobId: "job-1",
  expected: "application",
  policy: "prefer-application",
  quiesceAttempts: 2,
  ...over,
});

describe("vSphere adapter against the simulator", () => {
  let lab: Lab;
  let session: VsphereSession;
  let vms: readonly VmInfo[];
  const vm = (name: string) => vms.find((v) => v.name === name)!;
  const ourSnapshots = async (name: string) =>
    (
      (await lab.control("GET", "/state")).json as { vms: { name: string; snapshots: { name: string }[] }[] }
    ).vms
      .find((v) => v.name === name)!
      .snapshots.filter((s) => s.name.startsWith("snapvisor-backup-"));

  async function readAll(v: VmInfo, snap: BackupSnapshot, key: string): Promise<Buffer> {
    const disk = await session.openDisk(v, snap, key);
    try {
      const buf = Buffer.alloc(disk.capacity);
      for (let off = 0; off < disk.capacity; off += MiB) await disk.read(buf.subarray(off, off + MiB), off);
      return buf;
    } finally {
      await disk.close();
    }
  }
  const simDisk = async (name: string, snapName: string) =>
    (
      await lab.control(
        "GET",
        `/vms/${encodeURIComponent(name)}/disks/2000/content?snapshot=${encodeURIComponent(snapName)}`,
      )
    ).body;

  before(async () => {
    lab = await startLab(
      scenario(
        [
          vmSpec("win", {
            changeTracking: true,
            disks: [{ capacity: "8MiB", datastore: "ds1", data: [{ offset: 0, length: "1MiB", seed: 1 }] }],
          }),
          vmSpec("lin", { guest: LINUX, toolsVersionStatus: "guestToolsUnmanaged" }),
          vmSpec("tools-stopped", { tools: "not-running" }),
          vmSpec("no-tools", { tools: "not-installed", guest: LINUX }),
          vmSpec("off-clean", { power: "off", lastShutdown: "guest-shutdown" }),
          vmSpec("crashed", { power: "off", lastShutdown: "crash", guest: LINUX }),
          vmSpec("susp", { power: "suspended" }),
          vmSpec("flaky"),
          vmSpec("stuck"),
          vmSpec('<a&b> "q"', { guest: LINUX }),
          vmSpec("user-snap", {
            guest: LINUX,
            changeTracking: true,
            disks: [{ capacity: "4MiB", datastore: "ds1", data: [{ offset: 0, length: "512KiB", seed: 8 }] }],
            snapshots: [{ name: "before-upgrade", description: "the admin's" }],
          }),
        ],
        { ssh: { user: "root", password: PASSWORD } },
      ),
    );
    session = await connectVsphere(
      {
        url: lab.sim.sdkUrl,
        username: USER,
        password: PASSWORD,
        tls: { thumbprint: lab.sim.thumbprint },
        quiesceRetryDelayMs: 0,
      },
      { sleep: noWait },
    );
    vms = await session.inventory();
  });
  after(async () => {
    await session?.close();
    await lab.stop();
  });

  it("reads the inventory: power, tools, shutdown evidence, disks, hostile names", () => {
    const facts = Object.fromEntries(
      vms.map((v) => [v.name, `${v.power}/${v.tools}/${v.lastShutdown}/${v.guestOs}`]),
    );
    assert.deepEqual(facts, {
      win: "on/running/unknown/windows",
      lin: "on/running/unknown/linux",
      "tools-stopped": "on/not-running/unknown/windows",
      "no-tools": "on/not-installed/unknown/linux",
      "off-clean": "off/not-running/clean/windows",
      crashed: "off/not-running/dirty/linux",
      susp: "suspended/not-running/unknown/windows",
      flaky: "on/running/unknown/windows",
      stuck: "on/running/unknown/windows",
      '<a&b> "q"': "on/running/unknown/linux",
      "user-snap": "on/running/unknown/linux",
    });
    assert.equal(vm("win").disks[0]!.capacity, 8 * MiB);
  });

  it("full then incremental backup: the restored disk equals the simulated disk at each snapshot", async () => {
    const v = vm("win");
    const s1 = await session.createSnapshot(v, request());
    assert.equal(s1.achieved, "application");
    const d1 = s1.disks[0]!;
    const full = await session.changedAreas(v, s1, d1, undefined);
    assert.equal(full.kind, "full");
    const image = await readAll(v, s1, d1.key);
    assert.ok(image.equals(await simDisk("win", s1.name)));
    await session.removeSnapshot(v, s1);

    const writes: [number, number][] = [
      [3 * MiB, 8192],
      [5 * MiB + 512, 512],
      [8 * MiB - 4096, 4096],
    ];
    for (const [i, [offset, length]] of writes.entries()) {
      assert.equal(
        (await lab.control("POST", "/vms/win/write", { disk: 2000, offset, length, seed: 50 + i })).status,
        200,
      );
    }
    const s2 = await session.createSnapshot(v, request({ jobId: "job-2" }));
    const d2 = s2.disks[0]!;
    const inc = await session.changedAreas(v, s2, d2, { changeId: d1.changeId!, capacity: d1.capacity });
    assert.equal(inc.kind, "incremental", inc.kind === "full" ? inc.reason : "");
    const disk = await session.openDisk(v, s2, d2.key);
    for (const e of inc.extents) {
      const part = Buffer.alloc(e.length);
      await disk.read(part, e.start);
      part.copy(image, e.start);
    }
    await disk.close();
    assert.ok(
      image.equals(await simDisk("win", s2.name)),
      "previous full + changed extents = the disk at the second snapshot",
    );
    const covered = inc.extents.reduce((n, e) => n + e.length, 0);
    assert.ok(covered < (8 * MiB) / 4, `only changed areas were read (${covered} bytes)`);
    await session.removeSnapshot(v, s2);
    assert.deepEqual(await ourSnapshots("win"), []);
  });

  const consistency: [string, string][] = [
    ["lin", "filesystem"],
    ["tools-stopped", "crash"],
    ["no-tools", "crash"],
    ["susp", "crash"],
    ['<a&b> "q"', "filesystem"],
  ];
  for (const [name, achieved] of consistency) {
    it(`achieves ${achieved} on ${name} and says why`, async () => {
      const v = vm(name);
      const s = await session.createSnapshot(v, request());
      assert.equal(s.achieved, achieved);
      assert.notEqual(s.reason, "");
      await session.removeSnapshot(v, s);
      assert.deepEqual(await ourSnapshots(name), []);
    });
  }

  it("require-application fails on a quiesce failure with a coded error and leaves no snapshot", async () => {
    await lab.control("POST", "/faults", { kind: "quiesce-failure", vm: "flaky" });
    await assert.rejects(
      session.createSnapshot(vm("flaky"), request({ policy: "require-application" })),
      (e: unknown) => isSnapvisorError(e, "VSPHERE_QUIESCE_FAILED"),
    );
    assert.deepEqual(await ourSnapshots("flaky"), []);
  });

  it("prefer-application falls back to crash after the quiesce attempts, with the reason", async () => {
    const s = await session.createSnapshot(vm("flaky"), request({ jobId: "job-3" }));
    assert.equal(s.achieved, "crash");
    assert.match(s.reason, /quiesce|Quiesce/);
    await session.removeSnapshot(vm("flaky"), s);
    await lab.control("DELETE", "/faults");
    assert.deepEqual(await ourSnapshots("flaky"), []);
  });

  it("a failed snapshot removal is a coded error; the next attempt removes it and consolidates", async () => {
    const v = vm("stuck");
    const s = await session.createSnapshot(v, request({ jobId: "job-4" }));
    await lab.control("POST", "/faults", { kind: "snapshot-removal-failure", vm: "stuck", times: 1 });
    await assert.rejects(
      session.removeSnapshot(v, s),
      (e: unknown) => isSnapvisorError(e) && e.code.startsWith("VSPHERE_"),
    );
    assert.equal((await ourSnapshots("stuck")).length, 1);
    await lab.control("POST", "/faults", { kind: "consolidation-needed", vm: "stuck", times: 1 });
    await session.removeSnapshot(v, s);
    assert.deepEqual(await ourSnapshots("stuck"), []);
    const state = (await lab.control("GET", "/state")).json as {
      vms: { name: string; consolidationNeeded: boolean }[];
    };
    assert.equal(
      state.vms.find((x) => x.name === "stuck")!.consolidationNeeded,
      false,
      "the adapter consolidated",
    );
  });

  it("a CBT reset turns the next incremental into a full read with the reason", async () => {
    const v = vm("win");
    const s1 = await session.createSnapshot(v, request({ jobId: "job-5" }));
    const d1 = s1.disks[0]!;
    await session.removeSnapshot(v, s1);
    await lab.control("POST", "/vms/win/cbt-reset", {});
    const s2 = await session.createSnapshot(v, request({ jobId: "job-6" }));
    const r = await session.changedAreas(v, s2, s2.disks[0]!, {
      changeId: d1.changeId!,
      capacity: d1.capacity,
    });
    assert.equal(r.kind, "full");
    assert.notEqual(r.kind === "full" ? r.reason : "", "");
    await session.removeSnapshot(v, s2);
  });

  it("logs in again after the server drops the session", async () => {
    await lab.control("POST", "/sessions/expire");
    const again = await session.inventory();
    assert.equal(again.length, vms.length);
  });

  it("reads over SSH with a pinned host key the same bytes as over /folder", async () => {
    const ssh = await connectVsphere(
      {
        url: lab.sim.sdkUrl,
        username: USER,
        password: PASSWORD,
        tls: { thumbprint: lab.sim.thumbprint },
        reader: {
          kind: "ssh",
          host: lab.sim.ssh!.host,
          port: lab.sim.ssh!.port,
          username: "root",
          password: PASSWORD,
          hostKeySha256: lab.sim.ssh!.hostKeyFingerprint,
        },
      },
      { sleep: noWait },
    );
    try {
      const v = (await ssh.inventory()).find((x) => x.name === "lin")!;
      const s = await ssh.createSnapshot(v, request({ jobId: "job-7" }));
      const disk = await ssh.openDisk(v, s, s.disks[0]!.key);
      const buf = Buffer.alloc(disk.capacity);
      await disk.read(buf, 0);
      await disk.close();
      assert.ok(buf.equals(await simDisk("lin", s.name)));
      await ssh.removeSnapshot(v, s);
    } finally {
      await ssh.close();
    }
  });

  it("a host that goes away mid-read ends in a coded error or a retried, correct read", async () => {
    const v = vm("lin");
    const s = await session.createSnapshot(v, request({ jobId: "job-8" }));
    await lab.control("POST", "/faults", {
      kind: "host-unreachable",
      vm: "lin",
      afterBytes: 100_000,
      transport: "http",
      times: 1,
    });
    const got = await readAll(v, s, s.disks[0]!.key).catch((e: unknown) => e);
    if (got instanceof Buffer)
      assert.ok(got.equals(await simDisk("lin", s.name)), "a retried read returns the right bytes");
    else assert.ok(isSnapvisorError(got) && got.code.startsWith("VSPHERE_"), String(got));
    await session.removeSnapshot(v, s);
    assert.deepEqual(await ourSnapshots("lin"), []);
  });

  it("backs up a VM that has a user's snapshot: reads through the redo log and leaves the user's snapshot", async () => {
    await lab.control("POST", "/vms/user-snap/write", { disk: 2000, offset: MiB, length: 65536, seed: 77 });
    const v = vm("user-snap");
    assert.deepEqual(v.snapshots, ["before-upgrade"]);
    const s = await session.createSnapshot(v, request({ jobId: "job-9" }));
    // The adapter may read through the redo log (src/disk/vmdk reads VMFSsparse) or refuse the chain
    // with its documented code; either way, never wrong bytes.
    const got = await readAll(v, s, s.disks[0]!.key).catch((e: unknown) => e);
    if (got instanceof Buffer)
      assert.ok(got.equals(await simDisk("user-snap", s.name)), "base flat + the user's redo log");
    else assert.ok(isSnapvisorError(got, "VSPHERE_DISK_UNSUPPORTED"), String(got));
    await session.removeSnapshot(v, s);
    const left = (
      (await lab.control("GET", "/state")).json as { vms: { name: string; snapshots: { name: string }[] }[] }
    ).vms.find((x) => x.name === "user-snap")!.snapshots;
    assert.deepEqual(
      left.map((x) => x.name),
      ["before-upgrade"],
    );
  });

  it("reads the disk of a VM whose name holds XML specials and quotes over /folder", async () => {
    const name = '<a&b> "q"';
    const v = vm(name);
    const s = await session.createSnapshot(v, request({ jobId: "job-10" }));
    const got = await readAll(v, s, s.disks[0]!.key);
    assert.ok(got.equals(await simDisk(name, s.name)));
    await session.removeSnapshot(v, s);
    assert.deepEqual(await ourSnapshots(name), []);
  });
});
