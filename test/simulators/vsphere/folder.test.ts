import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { httpGet, kid, kids, ref, textAt, xsiType } from "../../support/vim-soap-client.js";
import { PASSWORD, runTask, scenario, snapshotArgs, startLab, USER, vmSpec, type Lab } from "./helpers.js";

const MiB = 1024 * 1024;

/** An independent reader of VMFSsparse (COWD) redo logs: sector -> data, or undefined if absent. */
function cowdSector(file: Buffer, sector: number): Buffer | undefined {
  assert.equal(file.toString("latin1", 0, 4), "COWD");
  const gdOffset = file.readUInt32LE(20);
  const gt = file.readUInt32LE(gdOffset * 512 + Math.floor(sector / 4096) * 4);
  if (gt === 0) return undefined;
  const grain = file.readUInt32LE(gt * 512 + (sector % 4096) * 4);
  return grain === 0 ? undefined : file.subarray(grain * 512, grain * 512 + 512);
}

describe("vSphere simulator disks and /folder", () => {
  let lab: Lab;
  let cookie: string;
  const url = (path: string, ds = "ds1", dc = "DC1") =>
    `${new URL(lab.sim.sdkUrl).origin}/folder/${path}?dcPath=${encodeURIComponent(dc)}&dsName=${encodeURIComponent(ds)}`;

  before(async () => {
    lab = await startLab(
      scenario([
        vmSpec("web", {
          disks: [{ capacity: "2MiB", datastore: "ds1", data: [{ offset: 0, length: "1MiB", seed: 9 }] }],
        }),
        vmSpec("cut", { power: "off", lastShutdown: "power-off" }),
      ]),
    );
    cookie = lab.client.cookie!;
  });
  after(() => lab.stop());

  it("keeps the snapshot's parent extent unchanged while the guest writes to the redo log, and merges on removal", async () => {
    const vm = await lab.vm("web");
    const info = await runTask(lab, "CreateSnapshot_Task", vm, snapshotArgs("backup", false));
    const snap = ref(kid(info, "result"));
    const disk = kids(await lab.prop(snap, "config.hardware.device"), "VirtualDevice").find(
      (d) => xsiType(d) === "VirtualDisk",
    );
    assert.equal(textAt(disk, "backing", "fileName"), "[ds1] web/web.vmdk");
    const live = kids(await lab.prop(vm, "config.hardware.device"), "VirtualDevice").find(
      (d) => xsiType(d) === "VirtualDisk",
    );
    assert.equal(textAt(live, "backing", "fileName"), "[ds1] web/web-000001.vmdk");
    assert.equal(textAt(live, "backing", "parent", "fileName"), "[ds1] web/web.vmdk");

    const descriptor = await httpGet(url("web/web.vmdk"), { Cookie: cookie });
    assert.equal(descriptor.status, 200);
    const extent = /^RW (\d+) VMFS "(.+)"$/m.exec(descriptor.body.toString())!;
    assert.equal(Number(extent[1]) * 512, 2 * MiB);
    const before = await httpGet(url(`web/${extent[2]}`), { Cookie: cookie });
    const atSnapshot = await lab.control("GET", "/vms/web/disks/2000/content?snapshot=backup");
    assert.ok(before.body.equals(atSnapshot.body));

    const written = Buffer.alloc(4096, 0xab);
    assert.equal(
      (
        await lab.control("POST", "/vms/web/write", {
          disk: 2000,
          offset: 65536,
          data: written.toString("base64"),
        })
      ).status,
      200,
    );
    const afterWrite = await httpGet(url(`web/${extent[2]}`), { Cookie: cookie });
    assert.ok(afterWrite.body.equals(before.body), "the parent extent did not change");
    const delta = readFileSync(join(lab.dir, "ds1", "web", "web-000001-delta.vmdk"));
    assert.equal(delta.readUInt32LE(12), 4096, "COWD capacity in sectors");
    assert.ok(cowdSector(delta, 128)?.equals(written.subarray(0, 512)));
    assert.equal(cowdSector(delta, 0), undefined, "unwritten sectors fall through to the parent");
    const locked = await httpGet(url("web/web-000001-delta.vmdk"), { Cookie: cookie });
    assert.equal(locked.status, 500, "the running disk is locked by the VMX");

    await runTask(
      lab,
      "RemoveSnapshot_Task",
      snap,
      "<removeChildren>false</removeChildren><consolidate>true</consolidate>",
    );
    const flat = readFileSync(join(lab.dir, "ds1", "web", "web-flat.vmdk"));
    assert.ok(flat.subarray(65536, 65536 + 4096).equals(written), "the redo log was merged into the base");
    assert.ok(flat.subarray(0, 65536).equals(before.body.subarray(0, 65536)));
    assert.throws(() => readFileSync(join(lab.dir, "ds1", "web", "web-000001-delta.vmdk")));
  });

  describe("Range", () => {
    const file = "web/web.vmdk";
    let size: number;
    let whole: Buffer;
    before(async () => {
      whole = (await httpGet(url(file), { Cookie: cookie })).body;
      size = whole.length;
    });
    const cases: [string, string | undefined, number, [number, number] | undefined][] = [
      ["no Range: the whole file", undefined, 200, undefined],
      ["a closed range", "bytes=10-19", 206, [10, 19]],
      ["an open-ended range", "bytes=100-", 206, [100, -1]],
      ["a suffix range", "bytes=-50", 206, [-50, -1]],
      ["an end past the file, clipped", "bytes=0-99999999", 206, [0, -1]],
      ["several ranges: whole file", "bytes=0-1,5-6", 200, undefined],
      ["a start past the end", "bytes=99999999-", 416, undefined],
    ];
    for (const [why, range, status, span] of cases) {
      it(`answers ${status} for ${why}`, async () => {
        const r = await httpGet(url(file), { Cookie: cookie, ...(range ? { Range: range } : {}) });
        assert.equal(r.status, status);
        if (status === 416) {
          assert.equal(r.headers["content-range"], `bytes */${size}`);
          return;
        }
        assert.equal(r.headers["accept-ranges"], "bytes");
        if (!span) {
          assert.ok(r.body.equals(whole));
          return;
        }
        const start = span[0] < 0 ? size + span[0] : span[0];
        const end = span[1] < 0 ? size - 1 : span[1];
        assert.equal(r.headers["content-range"], `bytes ${start}-${end}/${size}`);
        assert.ok(r.body.equals(whole.subarray(start, end + 1)));
      });
    }
  });

  it("requires a session cookie or Basic credentials", async () => {
    const none = await httpGet(url("web/web.vmdk"));
    assert.equal(none.status, 401);
    assert.match(String(none.headers["www-authenticate"]), /^Basic /);
    const basic = await httpGet(url("web/web.vmdk"), {
      Authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`,
    });
    assert.equal(basic.status, 200);
    const wrong = await httpGet(url("web/web.vmdk"), {
      Authorization: `Basic ${Buffer.from(`${USER}:nope`).toString("base64")}`,
    });
    assert.equal(wrong.status, 401);
    const stale = await httpGet(url("web/web.vmdk"), {
      Cookie: 'vmware_soap_session="00000000-0000-0000-0000-000000000000"',
    });
    assert.equal(stale.status, 401);
  });

  it("answers 404 for unknown datastores, datacenters and paths escaping the datastore", async () => {
    for (const u of [
      url("web/web.vmdk", "nope"),
      url("web/web.vmdk", "ds1", "DC9"),
      url("web/missing.vmdk"),
      url("../ds2/x"),
      url("%2e%2e/%2e%2e/etc/passwd"),
      url("web"),
    ]) {
      assert.equal((await httpGet(u, { Cookie: cookie })).status, 404, u);
    }
  });

  it("drops the connection mid-body when the host becomes unreachable", async () => {
    await lab.control("POST", "/faults", {
      kind: "host-unreachable",
      vm: "cut",
      afterBytes: 1000,
      transport: "http",
      times: 1,
    });
    const r = await httpGet(url("cut/cut-flat.vmdk"), { Cookie: cookie, Range: "bytes=0-65535" }).catch(
      (e: Error) => e,
    );
    if (r instanceof Error) assert.match(r.message, /socket hang up|ECONNRESET|aborted/);
    else {
      assert.equal(r.aborted, true);
      assert.ok(r.body.length <= 1000);
    }
    const again = await httpGet(url("cut/cut-flat.vmdk"), { Cookie: cookie, Range: "bytes=0-65535" });
    assert.equal(again.body.length, 65536, "the rule was used up");
  });
});
