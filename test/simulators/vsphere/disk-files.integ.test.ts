/**
 * The simulator's disk files checked by independent readers: qemu-img (which reads VMFSsparse redo
 * logs and follows parentFileNameHint) and the project's own VMDK code (src/disk/vmdk).
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { openVmdk } from "../../../src/disk/vmdk/open.js";
import { scenario, startLab, vmSpec, type Lab } from "./helpers.js";

const MiB = 1024 * 1024;
const hasQemu = spawnSync("qemu-img", ["--version"]).status === 0;
const skip =
  !hasQemu && process.env["CI"] === undefined ? "qemu-img is not installed (Debian qemu-utils)" : false;

describe("simulator disk files read by independent readers", () => {
  let lab: Lab;
  let out: string;
  const vmDir = () => join(lab.dir, "ds1", "app");

  before(async () => {
    lab = await startLab(
      scenario([
        vmSpec("app", {
          disks: [
            {
              capacity: "8MiB",
              datastore: "ds1",
              data: [
                { offset: 0, length: "1MiB", seed: 3 },
                { offset: "5MiB", length: "64KiB", seed: 4 },
              ],
            },
          ],
          snapshots: [{ name: "first", description: "" }],
        }),
      ]),
    );
    out = mkdtempSync(join(tmpdir(), "vsim-qemu-"));
    const writes: [number, number, number][] = [
      [2 * MiB + 512, 70 * 512, 1],
      [5 * MiB, 4096, 2],
      [8 * MiB - 512, 512, 3],
    ];
    for (const [offset, length, seed] of writes) {
      assert.equal(
        (await lab.control("POST", "/vms/app/write", { disk: 2000, offset, length, seed })).status,
        200,
      );
    }
  });
  after(async () => {
    await lab.stop();
    rmSync(out, { recursive: true, force: true });
  });

  it(
    "qemu-img reads the running chain (flat + VMFSsparse redo log) as the guest sees it",
    { skip },
    async () => {
      const raw = join(out, "now.raw");
      execFileSync("qemu-img", ["convert", "-f", "vmdk", "-O", "raw", join(vmDir(), "app-000001.vmdk"), raw]);
      const expected = (await lab.control("GET", "/vms/app/disks/2000/content")).body;
      assert.equal(expected.length, 8 * MiB);
      assert.ok(readFileSync(raw).equals(expected));
      const info = execFileSync("qemu-img", ["info", join(vmDir(), "app-000001.vmdk")]).toString();
      assert.match(info, /backing file: app\.vmdk/);
    },
  );

  it("the project's VMDK reader reads the snapshot's base disk as it was at the snapshot", async () => {
    const disk = await openVmdk(join(vmDir(), "app.vmdk"));
    try {
      assert.equal(disk.capacity, 8 * MiB);
      const buf = new Uint8Array(8 * MiB);
      assert.equal(await disk.read(buf, 0), 8 * MiB);
      const atSnapshot = (await lab.control("GET", "/vms/app/disks/2000/content?snapshot=first")).body;
      assert.ok(Buffer.from(buf).equals(atSnapshot));
    } finally {
      await disk.close();
    }
  });

  it("the project's VMDK reader reads the running chain (flat + VMFSsparse redo log) as qemu-img does", async () => {
    const disk = await openVmdk(join(vmDir(), "app-000001.vmdk"));
    try {
      const buf = new Uint8Array(8 * MiB);
      assert.equal(await disk.read(buf, 0), 8 * MiB);
      assert.ok(Buffer.from(buf).equals((await lab.control("GET", "/vms/app/disks/2000/content")).body));
    } finally {
      await disk.close();
    }
  });
});
