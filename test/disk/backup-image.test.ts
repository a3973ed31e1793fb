import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { runCli } from "../../src/cli/run.js";
import { captureIo } from "../cli/capture-io.js";
import { qemuImg, qemuIo, qemuMissing, qemuRaw, tempDir } from "./qemu.js";

const MiB = 1024 * 1024;

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo({});
  const code = await runCli(args, io);
  return { code, out: io.out(), err: io.err() };
}

describe("snapvisor backup image on VHDX and VMDK files", { skip: qemuMissing }, () => {
  let dir = "";
  let cleanup = async (): Promise<void> => {};
  before(async () => ({ dir, cleanup } = await tempDir()));
  after(() => cleanup());

  for (const [format, create, convert] of [
    ["vhdx", ["-f", "vhdx", "-o", "block_size=1M"], undefined],
    ["vmdk", ["-f", "vmdk"], "streamOptimized"],
  ] as const) {
    it(`backs up a ${format}${convert ? ` (${convert})` : ""} image reading only its allocated areas, and restores the same bytes`, async () => {
      const size = 16 * MiB;
      const made = join(dir, `made.${format}`);
      await qemuImg("create", ...create, made, String(size));
      await qemuIo(format, made, "write -P 0x21 0 1M", `write -P 0x42 ${size - MiB} 512k`);
      let image = made;
      if (convert !== undefined) {
        image = join(dir, `image-${convert}.${format}`);
        await qemuImg("convert", "-f", format, "-O", format, "-o", `subformat=${convert}`, made, image);
      }
      const repo = join(dir, `repo-${format}`);
      assert.equal((await cli(["repo", "init", repo, "--chunk-size", "1M"])).code, 0);
      const backup = await cli([
        "backup",
        "image",
        image,
        "--repo",
        repo,
        "--machine",
        `m-${format}`,
        "--json",
      ]);
      assert.equal(backup.code, 0, backup.err);
      const point = JSON.parse(backup.out) as {
        pointId: string;
        manifest: { stats: { bytesRead: number }; disks: { capacity: number }[] };
      };
      assert.equal(point.manifest.disks[0]?.capacity, size);
      assert.ok(
        point.manifest.stats.bytesRead <= 2 * MiB,
        `read ${point.manifest.stats.bytesRead} bytes of ${size}`,
      );
      const out = join(dir, `restored-${format}.img`);
      const restore = await cli(["restore", point.pointId, "--repo", repo, "--disk", "disk0", "--out", out]);
      assert.equal(restore.code, 0, restore.err);
      assert.ok((await readFile(out)).equals(await qemuRaw(dir, image, format)));
    });
  }

  it("exports a recovery point to VMDK and VHDX files that qemu-img checks and reads as the restored bytes", async () => {
    const size = 12 * MiB + 1536;
    const image = join(dir, "export-src.vhdx");
    await qemuImg("create", "-f", "vhdx", "-o", "block_size=1M", image, String(size));
    await qemuIo("vhdx", image, "write -P 0x61 4096 1M", `write -P 0x62 ${size - 1536} 1536`);
    const repo = join(dir, "repo-export");
    assert.equal((await cli(["repo", "init", repo, "--chunk-size", "1M"])).code, 0);
    const backup = await cli(["backup", "image", image, "--repo", repo, "--machine", "m-export", "--json"]);
    assert.equal(backup.code, 0, backup.err);
    const { pointId } = JSON.parse(backup.out) as { pointId: string };
    const restored = join(dir, "export-restored.img");
    assert.equal((await cli(["restore", pointId, "--repo", repo, "--out", restored])).code, 0);
    const expected = await readFile(restored);
    for (const [format, qemuFormat] of [
      ["vmdk", "vmdk"],
      ["vmdk-sparse", "vmdk"],
      ["vhdx", "vhdx"],
      ["raw", "raw"],
    ] as const) {
      const out = join(dir, `exported.${format}`);
      const result = await cli([
        "export",
        pointId,
        "--repo",
        repo,
        "--format",
        format,
        "--out",
        out,
        "--json",
      ]);
      assert.equal(result.code, 0, result.err);
      assert.ok((JSON.parse(result.out) as { dataBytes: number }).dataBytes <= 2 * MiB, result.out);
      if (qemuFormat !== "raw") await qemuImg("check", "-f", qemuFormat, out);
      assert.ok((await qemuRaw(dir, out, qemuFormat)).equals(expected), `${format} export differs`);
    }
    const bad = await cli([
      "export",
      pointId,
      "--repo",
      repo,
      "--format",
      "qcow2",
      "--out",
      join(dir, "x.qcow2"),
    ]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.err, /--format must be one of/);
  });
});
