import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEMO_PASSWORD_ENV, labConfig, startLab, type Lab } from "../../src/cli/app/lab.js";
import { runCli } from "../../src/cli/run.js";
import { captureIo } from "./capture-io.js";

describe("controller commands against the simulated lab", () => {
  let lab: Lab;
  let dir: string;
  let configFile: string;
  let env: Record<string, string>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "snapvisor-cli-lab-"));
    lab = await startLab({ dir });
    configFile = join(dir, "snapvisor.json");
    await writeFile(configFile, JSON.stringify(labConfig(lab, join(dir, "repo"))));
    env = { [DEMO_PASSWORD_ENV]: lab.vspherePassword };
    const io = captureIo();
    assert.equal(await runCli(["repo", "init", join(dir, "repo")], io), 0, io.err());
  });
  after(async () => {
    await lab.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function cli(args: string[], extraEnv: Record<string, string> = {}) {
    const io = captureIo({ ...env, ...extraEnv });
    const code = await runCli(args, io);
    return { code, out: io.out(), err: io.err() };
  }

  it("inventory lists every VM with power, tools, last shutdown and the consistency decided", async () => {
    const r = await cli(["inventory", "--config", configFile]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /sql-01\s.*\bon\b.*running.*application.*VMware Tools running on a Windows guest/);
    assert.match(r.out, /build-05\s.*\boff\b.*dirty.*crash/);
    assert.match(r.out, /file-04\s.*\boff\b.*clean.*application/);
    assert.match(r.out, /dev-08\s.*suspended.*crash/);
    const json = await cli(["inventory", "--config", configFile, "--json"]);
    const vms = json.out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string; name: string });
    assert.ok(vms.filter((v) => v.type === "vm").length >= 10);
  });

  it("backup --vm takes a full and then an incremental point, and restores match the guest's disk", async () => {
    const first = await cli(["backup", "--config", configFile, "--vm", "sql-01", "--vm", "web-01"]);
    assert.equal(first.code, 0, first.err + first.out);
    assert.match(first.out, /sql-01\s+vm\s+ok\s+application/);
    await lab.control("POST", "/vms/web-01/write", {
      disk: 2000,
      offset: 3 * 1024 * 1024,
      length: 4096,
      seed: 77,
    });
    const second = await cli(["backup", "--config", configFile, "--vm", "web-01", "--json"]);
    assert.equal(second.code, 0, second.err);
    const points = await cli(["points", "list", "--repo", join(dir, "repo"), "--json"]);
    const list = points.out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { point: string; kind: string; machine: { name: string } });
    const web = list.filter((p) => p.machine.name === "web-01");
    assert.deepEqual(
      web.map((p) => p.kind),
      ["base", "incremental"],
    );
    const out = join(dir, "web.raw");
    const restore = await cli([
      "restore",
      web[1]!.point,
      "--repo",
      join(dir, "repo"),
      "--disk",
      "2000",
      "--out",
      out,
    ]);
    assert.equal(restore.code, 0, restore.err);
    const expected = await lab.control("GET", "/vms/web-01/disks/2000/content");
    const { readFile } = await import("node:fs/promises");
    assert.ok((await readFile(out)).equals(expected.body));
  });

  it("a config error exits 2 naming the path and value", async () => {
    const bad = join(dir, "bad.json");
    await writeFile(bad, JSON.stringify({ repository: { path: dir }, limits: { perDatastores: 2 } }));
    const r = await cli(["backup", "--config", bad]);
    assert.equal(r.code, 2);
    assert.match(r.err, /perDatastores/);
  });

  it("a missing secret is a clear error, and nothing secret is printed", async () => {
    const io = captureIo({});
    const code = await runCli(["inventory", "--config", configFile], io);
    assert.equal(code, 2);
    assert.match(io.err(), new RegExp(`${DEMO_PASSWORD_ENV} is not set`));
    assert.doesNotMatch(
      io.err() + io.out(),
      new RegExp(lab.vspherePassword.replace(/[$()*+.?[\\\]^{|}]/g, "\\$&")),
    );
  });
});

describe("snapvisor demo", () => {
  it("backs up the lab twice, verifies, and every restore is byte-identical", async () => {
    const io = captureIo({});
    const code = await runCli(["demo"], io);
    assert.match(io.out(), /verify: clean; restores: all byte-identical/, io.err());
    assert.match(io.out(), /sql-01\s+application \/ application/);
    assert.equal(code, 0, io.out());
  });
});
