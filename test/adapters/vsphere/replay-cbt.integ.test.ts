/** CBT against a scripted vCenter: paging, FileFault fallback, resets, impossible pages, 64-bit offsets. */
import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { isSnapvisorError } from "../../../src/domain/errors.js";
import { SNAPSHOT_PREFIX } from "../../../src/domain/hypervisor.js";
import { arg, type Answer, type RecordedCall } from "./helpers/replay-server.js";
import { GiB, ScriptedVcenter, UUID, vm } from "./helpers/scripted-vcenter.js";

const ctx = new ScriptedVcenter();
afterEach(() => ctx.close());

/** QueryChangedDiskAreas answered in 1 GiB windows from `extents`, or by `override`. */
function cbtHandler(extents: [number, number][], override?: (call: RecordedCall) => Answer | undefined) {
  return (call: RecordedCall): Answer | undefined => {
    if (call.method !== "QueryChangedDiskAreas") return undefined;
    const forced = override?.(call);
    if (forced !== undefined) return forced;
    const start = Number(arg(call.args, "startOffset"));
    const inside = extents.filter(([s]) => s >= start && s < start + GiB);
    return {
      xml: `<returnval><startOffset>${start}</startOffset><length>${GiB}</length>${inside.map(([s, l]) => `<changedArea><start>${s}</start><length>${l}</length></changedArea>`).join("")}</returnval>`,
    };
  };
}

const snapshot = {
  ref: "snapshot-7",
  name: `${SNAPSHOT_PREFIX}j`,
  achieved: "crash" as const,
  reason: "",
  disks: [],
};
const disk = { key: "2000", capacity: 3 * GiB, changeId: `${UUID}/42` };

describe("CBT against a scripted vCenter", () => {
  test("changedAreas() pages QueryChangedDiskAreas to the disk end from the previous changeId and merges extents", async () => {
    const s = await ctx.open(
      cbtHandler([
        [0, 65536],
        [65536, 65536],
        [GiB + 4096, 8192],
        [2 * GiB, 1 << 20],
      ]),
    );
    const areas = await s.changedAreas(vm(), snapshot, disk, { changeId: `${UUID}/40`, capacity: 3 * GiB });
    assert.deepEqual(areas, {
      kind: "incremental",
      extents: [
        { start: 0, length: 131072 },
        { start: GiB + 4096, length: 8192 },
        { start: 2 * GiB, length: 1 << 20 },
      ],
    });
    assert.deepEqual(
      ctx
        .calls("QueryChangedDiskAreas")
        .map((c) => [
          arg(c.args, "startOffset"),
          arg(c.args, "changeId"),
          arg(c.args, "deviceKey"),
          arg(c.args, "snapshot"),
        ]),
      [0, GiB, 2 * GiB].map((o) => [String(o), `${UUID}/40`, "2000", "snapshot-7"]),
    );
  });

  test("the first backup asks changeId=* and reads the allocated areas in full", async () => {
    const s = await ctx.open(cbtHandler([[4096, 4096]]));
    const areas = await s.changedAreas(vm(), snapshot, disk, undefined);
    assert.equal(areas.kind, "full");
    assert.deepEqual(areas.kind === "full" ? areas.extents : [], [{ start: 4096, length: 4096 }]);
    assert.ok(ctx.calls("QueryChangedDiskAreas").every((c) => arg(c.args, "changeId") === "*"));
  });

  test("a FileFault on the previous changeId means a full read with the reason and the allocated map", async () => {
    const s = await ctx.open(
      cbtHandler([[0, 512]], (c) =>
        arg(c.args, "changeId") === "*"
          ? undefined
          : {
              fault: `<FileNotFoundFault xmlns="urn:vim25" xsi:type="FileNotFound"><file>[ds1] sql-01/sql-01-ctk.vmdk</file></FileNotFoundFault>`,
              message: "Error caused by file /vmfs/volumes/ds1/sql-01/sql-01-ctk.vmdk",
            },
      ),
    );
    const areas = await s.changedAreas(vm(), snapshot, disk, { changeId: `${UUID}/40`, capacity: 3 * GiB });
    assert.equal(areas.kind, "full");
    assert.match(areas.kind === "full" ? areas.reason : "", /refused changeId .*\/40.*VSPHERE_FILE_FAULT/);
    assert.deepEqual(areas.kind === "full" ? areas.extents : undefined, [{ start: 0, length: 512 }]);
  });

  test("a CBT reset (new changeId UUID) skips the incremental query and reads in full", async () => {
    const s = await ctx.open(cbtHandler([]));
    const areas = await s.changedAreas(vm(), snapshot, disk, { changeId: "52 00 11/9", capacity: 3 * GiB });
    assert.equal(areas.kind, "full");
    assert.match(areas.kind === "full" ? areas.reason : "", /CBT of disk 2000 was reset/);
    assert.ok(ctx.calls("QueryChangedDiskAreas").every((c) => arg(c.args, "changeId") === "*"));
  });

  const broken: [string, (c: RecordedCall) => Answer | undefined][] = [
    [
      "a page that does not advance",
      () => ({ xml: "<returnval><startOffset>0</startOffset><length>0</length></returnval>" }),
    ],
    [
      "a page that starts elsewhere",
      () => ({ xml: `<returnval><startOffset>512</startOffset><length>${GiB}</length></returnval>` }),
    ],
    [
      "an area outside its window",
      () => ({
        xml: `<returnval><startOffset>0</startOffset><length>4096</length><changedArea><start>4000</start><length>512</length></changedArea></returnval>`,
      }),
    ],
  ];
  for (const [name, answer] of broken) {
    test(`changedAreas() refuses ${name} with VSPHERE_CBT_INCONSISTENT`, async () => {
      const s = await ctx.open(cbtHandler([], answer));
      await assert.rejects(
        s.changedAreas(vm(), snapshot, disk, { changeId: `${UUID}/40`, capacity: 3 * GiB }),
        (e) => isSnapvisorError(e, "VSPHERE_CBT_INCONSISTENT"),
      );
    });
  }

  test("changedAreas() refuses offsets beyond 2^53 with a coded error instead of rounding", async () => {
    const s = await ctx.open(
      cbtHandler([], () => ({
        xml: `<returnval><startOffset>0</startOffset><length>9007199254740993</length></returnval>`,
      })),
    );
    await assert.rejects(
      s.changedAreas(vm(), snapshot, disk, { changeId: `${UUID}/40`, capacity: 3 * GiB }),
      (e) => isSnapvisorError(e, "VSPHERE_BAD_ANSWER") && /9007199254740993/.test(e.message),
    );
  });
});
