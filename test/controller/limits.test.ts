import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { setImmediate as turn } from "node:timers/promises";
import { Limiter, keyId, keysForVm, type LimitKey } from "../../src/controller/limits.js";
import type { Limits } from "../../src/controller/config-schema.js";
import type { VmDisk } from "../../src/domain/hypervisor.js";

const limits: Limits = { global: 4, perHost: 2, perDatastore: 3, perCsv: 1, openSnapshotsPerDatastore: 2 };

/** Deterministic PRNG so a failing mix can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Resolves with the promise's value, or rejects if it is not settled after `turns` event-loop turns. */
async function within<T>(promise: Promise<T>, turns: number): Promise<T> {
  let settled = false;
  const watched = promise.finally(() => (settled = true));
  for (let i = 0; i < turns && !settled; i++) await turn();
  if (!settled) throw new Error(`not settled after ${turns} turns (deadlock?)`);
  return watched;
}

function disk(key: string, datastore: string, shared = false): VmDisk {
  return { key, label: key, capacity: 1, path: `[${datastore}] x`, datastore, changeTracking: true, shared };
}

describe("keysForVm()", () => {
  it("takes global, host, and a read and snapshot slot per datastore of a vSphere VM", () => {
    const keys = keysForVm(
      {
        hypervisor: "vsphere",
        host: "esx1",
        disks: [disk("1", "ds1"), disk("2", "ds2"), disk("3", "ds1")],
      },
      "vc1",
    );
    assert.deepEqual(keys.map(keyId).sort(), [
      "datastore:vc1:ds1",
      "datastore:vc1:ds2",
      "global",
      "host:vc1:esx1",
      "snapshots:vc1:ds1",
      "snapshots:vc1:ds2",
    ]);
  });

  it("uses CSV keys for Hyper-V and leaves shared disks to their cluster", () => {
    const keys = keysForVm(
      {
        hypervisor: "hyperv",
        host: "n1",
        disks: [disk("a", "CSV1"), disk("b", "CSV2", true)],
      },
      "c1",
    );
    assert.deepEqual(keys.map(keyId).sort(), ["csv:c1:CSV1", "global", "host:c1:n1", "snapshots:c1:CSV1"]);
  });

  it("keeps stores and hosts of different sources apart even when their names are equal", async () => {
    // Every Hyper-V cluster has a C:\ClusterStorage\Volume1 and every standalone host a D:\.
    const volume1 = (source: string) =>
      keysForVm(
        { hypervisor: "hyperv", host: "node1", disks: [disk("a", "C:\\ClusterStorage\\Volume1")] },
        source,
      );
    const a = volume1("cluster-a");
    const b = volume1("cluster-b");
    assert.deepEqual(
      a.map(keyId).filter((id) => b.map(keyId).includes(id)),
      ["global"],
    );
    const limiter = new Limiter({ ...limits, perHost: 1, perCsv: 1, openSnapshotsPerDatastore: 1 });
    const first = await limiter.acquire(a);
    const second = await within(limiter.acquire(b), 10);
    second.release();
    first.release();
  });
});

describe("Limiter", () => {
  it("never runs more jobs per key than its limit, and reaches the limit", async () => {
    const limiter = new Limiter(limits);
    const random = prng(42);
    const hosts = ["esx1", "esx2", "esx3"];
    const stores = ["ds1", "ds2", "ds3", "ds4"];
    const active = new Map<string, number>();
    const seen = new Map<string, number>();
    const jobs = Array.from({ length: 60 }, async () => {
      const host = hosts[Math.floor(random() * hosts.length)] ?? "esx1";
      const ds = [...new Set([0, 1].map(() => stores[Math.floor(random() * stores.length)] ?? "ds1"))];
      const keys = keysForVm(
        { hypervisor: "vsphere", host, disks: ds.map((d, i) => disk(String(i), d)) },
        "vc1",
      );
      const work = 1 + Math.floor(random() * 5);
      const lease = await limiter.acquire(keys);
      const ids = keys.map(keyId);
      for (const id of ids) {
        active.set(id, (active.get(id) ?? 0) + 1);
        seen.set(id, Math.max(seen.get(id) ?? 0, active.get(id) ?? 0));
      }
      for (let i = 0; i < work; i++) await turn();
      for (const id of ids) active.set(id, (active.get(id) ?? 0) - 1);
      lease.release();
    });
    await within(Promise.all(jobs), 10_000);
    const cap = (id: string) =>
      id === "global"
        ? 4
        : id.startsWith("host:")
          ? 2
          : id.startsWith("datastore:")
            ? 3
            : id.startsWith("snapshots:")
              ? 2
              : 0;
    for (const [id, max] of seen) assert.ok(max <= cap(id), `${id}: ${max} at once, limit ${cap(id)}`);
    assert.ok((seen.get("global") ?? 0) >= 2, "jobs ran in parallel");
    for (const [id, s] of limiter.stats()) {
      assert.equal(s.active, 0, `${id} released`);
      assert.equal(s.maxActive, seen.get(id), `${id} stats agree with what the jobs observed`);
    }
  });

  it("runs independent jobs up to the global limit at once", async () => {
    const limiter = new Limiter(limits);
    let active = 0;
    let max = 0;
    const jobs = Array.from({ length: 10 }, async (_, i) => {
      const lease = await limiter.acquire(
        keysForVm({ hypervisor: "vsphere", host: `esx${i}`, disks: [disk("1", `ds${i}`)] }, "vc1"),
      );
      max = Math.max(max, ++active);
      for (let t = 0; t < 3; t++) await turn();
      active--;
      lease.release();
    });
    await within(Promise.all(jobs), 1_000);
    assert.equal(max, 4);
  });

  it("finishes jobs that name overlapping keys in opposite orders (no deadlock)", async () => {
    const limiter = new Limiter({
      global: 10,
      perHost: 1,
      perDatastore: 1,
      perCsv: 1,
      openSnapshotsPerDatastore: 1,
    });
    const a: LimitKey = { kind: "datastore", name: "a" };
    const b: LimitKey = { kind: "datastore", name: "b" };
    const h: LimitKey = { kind: "host", name: "h" };
    let done = 0;
    const job = async (keys: LimitKey[]) => {
      const lease = await limiter.acquire(keys);
      await turn();
      lease.release();
      done++;
    };
    const orders = [
      [a, b, h],
      [h, b, a],
      [b, a],
      [h, a],
      [b, h],
    ];
    await within(
      Promise.all(Array.from({ length: 40 }, (_, i) => job(orders[i % orders.length] ?? []))),
      10_000,
    );
    assert.equal(done, 40);
  });

  it("an aborted wait rejects, gives back the keys it held, and leaves others' slots alone", async () => {
    const limiter = new Limiter({ ...limits, perHost: 1 });
    const host: LimitKey = { kind: "host", name: "h" };
    const ds: LimitKey = { kind: "datastore", name: "d" };
    const holder = await limiter.acquire([host]);
    const controller = new AbortController();
    const waiting = limiter.acquire([ds, host], controller.signal);
    await turn();
    assert.equal(
      limiter.stats().get("datastore:d")?.active,
      1,
      "the waiter holds the datastore while it waits for the host",
    );
    controller.abort(new Error("SIGINT"));
    await assert.rejects(waiting, /SIGINT/);
    assert.equal(limiter.stats().get("datastore:d")?.active, 0);
    assert.equal(limiter.stats().get("host:h")?.active, 1, "the holder keeps its slot");
    holder.release();
    holder.release();
    const next = await within(limiter.acquire([host, ds]), 100);
    assert.equal(limiter.stats().get("host:h")?.active, 1);
    next.release();
  });

  it("keeps a held slot after the job's signal aborts, until release", async () => {
    const limiter = new Limiter({ ...limits, perHost: 1 });
    const host: LimitKey = { kind: "host", name: "h" };
    const controller = new AbortController();
    const lease = await limiter.acquire([host], controller.signal);
    controller.abort();
    await turn();
    const other = limiter.acquire([host]);
    let got = false;
    void other.then(() => (got = true));
    for (let i = 0; i < 20; i++) await turn();
    assert.equal(got, false, "the slot is still held by the aborted job's cleanup");
    lease.release();
    (await within(other, 100)).release();
  });
});
