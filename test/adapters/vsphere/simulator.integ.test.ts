/**
 * The adapter against the project's vSphere simulator (simulators/vsphere) for the paths vcsim lacks,
 * with real semantics instead of scripted answers: CBT enabled by the adapter, changeIds from the
 * snapshot, QueryChangedDiskAreas paged by the server (small pages forced), the never-under-report
 * invariant checked on the bytes, consolidation, and shutdown evidence (cleanPowerOff + events).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:https";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectVsphere, type VsphereSession } from "../../../adapters/vsphere/index.js";
import {
  parseScenario,
  startVsphereSimulator,
  type VsphereSimulator,
} from "../../../simulators/vsphere/index.js";
import type { BackupSnapshot, VmInfo } from "../../../src/domain/hypervisor.js";
import type { DiskSource, Extent } from "../../../src/domain/ports.js";
import { captureLogger } from "./helpers/logs.js";

const KiB = 1024;
const MiB = 1024 * KiB;
let sim: VsphereSimulator;
let session: VsphereSession;
let dir: string;
const logger = captureLogger();

function control(method: string, path: string, body?: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${sim.controlUrl}${path}`,
      {
        method,
        ca: sim.certificatePem,
        headers: { Authorization: `Bearer ${sim.controlToken}`, "Content-Type": "application/json" },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const vmSpec = (name: string, over: Record<string, unknown> = {}) => ({
  name,
  host: "esx-01",
  guest: { id: "rhel8_64Guest", fullName: "Red Hat Enterprise Linux 8 (64-bit)" },
  tools: "running",
  power: "on",
  disks: [{ capacity: "8MiB", datastore: "ds1", data: [{ offset: 0, length: "1MiB", seed: 3 }] }],
  ...over,
});

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "snapvisor-vsim-"));
  sim = await startVsphereSimulator({
    dir,
    scenario: parseScenario({
      credentials: { user: "backup@vsphere.local", password: `pw <&> "x"` },
      options: { maxObjectsPerPage: 100, cbtMaxExtentsPerCall: 3, cbtBlockSize: 65536 },
      datacenters: [
        {
          name: "DC1",
          datastores: [{ name: "ds1" }],
          clusters: [{ name: "C1", hosts: [{ name: "esx-01" }] }],
          vms: [
            vmSpec("app"),
            vmSpec("consolidate"),
            vmSpec("off-clean", { power: "off", lastShutdown: "guest-shutdown" }),
            vmSpec("off-hard", { power: "off", lastShutdown: "power-off" }),
            vmSpec("off-crash", { power: "off", lastShutdown: "crash" }),
          ],
        },
      ],
      faults: [{ kind: "consolidation-needed", vm: "consolidate", times: 1 }],
    }),
  });
  session = await connectVsphere(
    {
      url: sim.sdkUrl,
      username: "backup@vsphere.local",
      password: `pw <&> "x"`,
      tls: { thumbprint: sim.thumbprint },
      quiesceRetryDelayMs: 0,
    },
    { sleep: async () => {}, logger },
  );
});

after(async () => {
  await session?.close();
  await sim?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function vmNamed(name: string): Promise<VmInfo> {
  const vm = (await session.inventory()).find((v) => v.name === name);
  assert.ok(vm, name);
  return vm;
}

async function readAll(source: DiskSource): Promise<Buffer> {
  const out = Buffer.alloc(source.capacity);
  for (let off = 0; off < source.capacity; off += MiB)
    await source.read(out.subarray(off, Math.min(off + MiB, source.capacity)), off);
  return out;
}

async function image(vm: VmInfo, snap: BackupSnapshot): Promise<Buffer> {
  const source = await session.openDisk(vm, snap, snap.disks[0]!.key);
  try {
    return await readAll(source);
  } finally {
    await source.close();
  }
}

/** Byte ranges where `a` and `b` differ. */
function differing(a: Buffer, b: Buffer): Extent[] {
  const out: Extent[] = [];
  for (let i = 0; i < a.length; i += 512) {
    if (!a.subarray(i, i + 512).equals(b.subarray(i, i + 512))) out.push({ start: i, length: 512 });
  }
  return out;
}

const covered = (e: Extent, by: readonly Extent[]) =>
  by.some((x) => e.start >= x.start && e.start + e.length <= x.start + x.length);

describe("vSphere adapter against the project's simulator", () => {
  test("CBT: the adapter enables tracking, a full backup gets the allocated areas, an incremental covers every changed byte", async () => {
    const vm = await vmNamed("app");
    assert.equal(vm.disks[0]?.changeTracking, false);
    const s1 = await session.createSnapshot(vm, {
      jobId: "full",
      expected: "filesystem",
      policy: "prefer-application",
      quiesceAttempts: 2,
    });
    assert.equal(s1.achieved, "filesystem");
    const disk1 = s1.disks[0]!;
    assert.ok(disk1.changeId !== undefined && /\/\d+$/.test(disk1.changeId), `changeId ${disk1.changeId}`);
    const full = await session.changedAreas(vm, s1, disk1, undefined);
    assert.equal(full.kind, "full");
    const allocated = full.kind === "full" ? (full.extents ?? []) : [];
    const base = await image(vm, s1);
    // Every non-zero byte of the full image lies inside the allocated areas ("*").
    for (const d of differing(base, Buffer.alloc(base.length)))
      assert.ok(covered(d, allocated), `allocated misses ${d.start}`);
    await session.removeSnapshot(vm, s1);

    for (const [offset, length, seed] of [
      [3 * MiB, 64 * KiB, 11],
      [5 * MiB + 512, 4 * KiB, 12],
      [8 * MiB - 512, 512, 13],
      [0, 512, 14],
    ] as const) {
      assert.equal(
        await control("POST", "/vms/app/write", { disk: Number(disk1.key), offset, length, seed }),
        200,
      );
    }
    const after = await vmNamed("app");
    const s2 = await session.createSnapshot(after, {
      jobId: "incr",
      expected: "filesystem",
      policy: "prefer-application",
      quiesceAttempts: 2,
    });
    const disk2 = s2.disks[0]!;
    assert.notEqual(disk2.changeId, disk1.changeId);
    const incr = await session.changedAreas(after, s2, disk2, {
      changeId: disk1.changeId,
      capacity: disk1.capacity,
    });
    assert.equal(incr.kind, "incremental");
    const extents = incr.kind === "incremental" ? incr.extents : [];
    const next = await image(after, s2);
    const changed = differing(base, next);
    assert.ok(changed.length > 0);
    for (const d of changed) assert.ok(covered(d, extents), `incremental misses a change at ${d.start}`);
    await session.removeSnapshot(after, s2);
    assert.deepEqual((await vmNamed("app")).snapshots, []);
  });

  test("consolidation: a removal that leaves consolidationNeeded is followed by ConsolidateVMDisks_Task", async () => {
    const vm = await vmNamed("consolidate");
    const snap = await session.createSnapshot(vm, {
      jobId: "c1",
      expected: "crash",
      policy: "crash-only",
      quiesceAttempts: 1,
    });
    await session.removeSnapshot(vm, snap);
    assert.ok(
      logger.records.some(
        (r) => r.level === "warn" && r.msg === "disks need consolidation after snapshot removal",
      ),
    );
    assert.deepEqual((await vmNamed("consolidate")).snapshots, []);
    assert.equal(sim.model.vmByName("consolidate")?.consolidationNeeded, false);
  });

  test("shutdown kind: guest shutdown is clean, hard power-off and crash are dirty", async () => {
    const vms = await session.inventory();
    const kind = (name: string) => vms.find((v) => v.name === name)?.lastShutdown;
    assert.equal(kind("off-clean"), "clean");
    assert.equal(kind("off-hard"), "dirty");
    assert.equal(kind("off-crash"), "dirty");
    assert.equal(kind("app"), "unknown");
  });
});
