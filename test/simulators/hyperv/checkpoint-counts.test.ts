import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SimControl } from "../../../simulators/hyperv/control.js";
import { HypervModel, type SimVm } from "../../../simulators/hyperv/model.js";
import { parseScenario } from "../../../simulators/hyperv/scenario.js";
import { VhdxImages } from "../../../simulators/hyperv/vhdx-images.js";

const V1 = "C:\\ClusterStorage\\Volume1";
const V2 = "C:\\ClusterStorage\\Volume2";
const V10 = "C:\\ClusterStorage\\Volume10";

function id(n: number): string {
  return `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
}

const scenario = parseScenario({
  cluster: { name: "CLU" },
  nodes: [{ name: "HV01" }, { name: "HV02" }],
  volumes: [
    { name: "Cluster Disk 1", path: V1, owner: "HV01" },
    { name: "Cluster Disk 2", path: V2, owner: "HV02" },
    { name: "Cluster Disk 10", path: V10, owner: "HV02" },
  ],
  guestClusters: [{ name: "gc", id: "0b7d3a52-9a1f-4f55-9c43-6d1b7c1e0a01", members: ["gc-a", "gc-b"] }],
  vms: [
    { name: "one", id: id(1), node: "HV01", state: "Running", disks: [{ path: `${V1}\\one\\os.vhdx` }] },
    {
      name: "two-csvs",
      id: id(2),
      node: "HV02",
      state: "Running",
      disks: [
        { path: `${V1}\\two\\os.vhdx` },
        { path: `${V2}\\two\\data.vhdx`, location: 1 },
        { path: `${V2}\\two\\logs.vhdx`, location: 2 },
      ],
    },
    { name: "ten", id: id(3), node: "HV02", state: "Off", disks: [{ path: `${V10}\\ten\\os.vhdx` }] },
    { name: "local", id: id(4), node: "HV01", state: "Off", disks: [{ path: "d:\\VMs\\local\\os.vhdx" }] },
    {
      name: "gc-a",
      id: id(5),
      node: "HV01",
      state: "Running",
      disks: [
        { path: `${V1}\\gc-a\\os.vhdx` },
        { path: `${V2}\\gc\\shared.vhdx`, shared: true, location: 1 },
      ],
    },
    {
      name: "gc-b",
      id: id(6),
      node: "HV02",
      state: "Running",
      disks: [
        { path: `${V1}\\gc-b\\os.vhdx` },
        { path: `${V2}\\gc\\shared.vhdx`, shared: true, location: 1 },
      ],
    },
  ],
});

describe("the Hyper-V simulator's count of open checkpoints per CSV and per node", () => {
  let dir: string;
  let images: VhdxImages;
  let model: HypervModel;
  let control: SimControl;
  const vm = (name: string): SimVm => control.vm(name);
  const open = () => {
    const o = model.openCheckpoints();
    return { perCsv: Object.fromEntries(o.perCsv), perHost: Object.fromEntries(o.perHost) };
  };
  const max = () => ({
    perCsv: Object.fromEntries(model.maxOpenCheckpoints.perCsv),
    perHost: Object.fromEntries(model.maxOpenCheckpoints.perHost),
  });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "hv-counts-"));
    images = new VhdxImages();
    model = await HypervModel.load(scenario, dir, images);
    control = new SimControl(model);
  });
  after(async () => {
    await images.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("names the CSV of a path by the longest matching volume, or the local volume's root", () => {
    assert.equal(model.volumeOf(`${V1}\\a\\b.vhdx`), V1);
    assert.equal(model.volumeOf(`${V10}\\a.vhdx`), V10, "Volume10 is not inside Volume1");
    assert.equal(model.volumeOf("c:\\clusterstorage\\volume2\\x.vhdx"), V2);
    assert.equal(model.volumeOf("d:\\VMs\\x.vhdx"), "D:\\");
  });

  it("counts a checkpoint from its creation until it is removed, once per CSV of the disks it froze", async () => {
    assert.deepEqual(open(), { perCsv: {}, perHost: {} });
    const a = await model.createCheckpoint(vm("one"), { type: "Recovery", name: "a", consistencyLevel: 1 });
    const b = await model.createCheckpoint(vm("two-csvs"), {
      type: "Recovery",
      name: "b",
      consistencyLevel: 1,
    });
    // two-csvs has two disks on Volume2: one checkpoint, counted once there.
    assert.deepEqual(open(), { perCsv: { [V1]: 2, [V2]: 1 }, perHost: { HV01: 1, HV02: 1 } });
    const c = await model.createCheckpoint(vm("one"), { type: "Standard", name: "c", consistencyLevel: 2 });
    assert.deepEqual(open(), { perCsv: { [V1]: 3, [V2]: 1 }, perHost: { HV01: 2, HV02: 1 } });
    await model.removeCheckpoint(c);
    await model.removeCheckpoint(a);
    assert.deepEqual(open(), { perCsv: { [V1]: 1, [V2]: 1 }, perHost: { HV02: 1 } });
    await model.removeCheckpoint(b);
    assert.deepEqual(open(), { perCsv: {}, perHost: {} });
    assert.deepEqual(max(), { perCsv: { [V1]: 3, [V2]: 1 }, perHost: { HV01: 2, HV02: 1 } });
  });

  it("counts a disk outside every CSV under its local volume, and a VM's checkpoint under its current node", async () => {
    control.resetCheckpointCounts();
    const l = await model.createCheckpoint(vm("local"), { type: "Standard", name: "l", consistencyLevel: 2 });
    control.migrate("local", "HV02");
    assert.deepEqual(open(), { perCsv: { "D:\\": 1 }, perHost: { HV02: 1 } });
    await model.removeCheckpoint(l);
    control.migrate("local", "HV01");
    assert.deepEqual(max(), { perCsv: { "D:\\": 1 }, perHost: { HV01: 1 } });
  });

  it("counts a guest cluster's collection checkpoint for the shared disk's CSV and every member's node", async () => {
    control.resetCheckpointCounts();
    const shared = vm("gc-a").drives.find((d) => d.disk.shared)?.disk;
    assert.ok(shared);
    const own = await model.createCheckpoint(vm("gc-a"), {
      type: "Recovery",
      name: "own",
      consistencyLevel: 1,
    });
    const coll = await model.createCheckpoint(vm("gc-a"), {
      type: "Recovery",
      name: "gc",
      consistencyLevel: 1,
      disks: [shared],
      collectionId: "0b7d3a52-9a1f-4f55-9c43-6d1b7c1e0a01",
    });
    assert.deepEqual(open(), { perCsv: { [V1]: 1, [V2]: 1 }, perHost: { HV01: 2, HV02: 1 } });
    await model.removeCheckpoint(coll);
    await model.removeCheckpoint(own);
    assert.deepEqual(open(), { perCsv: {}, perHost: {} });
  });

  it("drops a removed VM's checkpoints from the count (Remove-VM), and refuses to remove a running VM", async () => {
    control.resetCheckpointCounts();
    await control.addVm({
      name: "temp",
      id: id(9),
      node: "HV01",
      state: "Off",
      disks: [{ path: `${V1}\\temp\\os.vhdx`, size: "4MiB" }],
      checkpoints: [{ name: "before" }],
    });
    assert.deepEqual(open(), { perCsv: { [V1]: 1 }, perHost: { HV01: 1 } });
    await assert.rejects(
      control.addVm({ name: "temp", id: id(10), node: "HV01", state: "Off" }),
      /already exists/,
    );
    assert.throws(() => control.removeVm("one"), /current state \(Running\)/);
    control.removeVm("temp");
    assert.equal(model.vmByName("temp"), undefined);
    assert.deepEqual(open(), { perCsv: {}, perHost: {} });
  });

  it("shows the counts now and the most at once in the control API's state, and resets the most to now", async () => {
    control.resetCheckpointCounts();
    const t1 = await model.createCheckpoint(vm("ten"), { type: "Standard", name: "t1", consistencyLevel: 2 });
    const t2 = await model.createCheckpoint(vm("ten"), { type: "Standard", name: "t2", consistencyLevel: 2 });
    await model.removeCheckpoint(t2);
    const state = control.state() as { openCheckpoints: unknown; maxOpenCheckpoints: unknown };
    assert.deepEqual(state.openCheckpoints, { perCsv: { [V10]: 1 }, perHost: { HV02: 1 } });
    assert.deepEqual(state.maxOpenCheckpoints, { perCsv: { [V10]: 2 }, perHost: { HV02: 2 } });
    control.resetCheckpointCounts();
    assert.deepEqual(max(), { perCsv: { [V10]: 1 }, perHost: { HV02: 1 } }, "what is open still counts");
    await model.removeCheckpoint(t1);
  });
});
