/**
 * A real SIGINT to a running `snapvisor backup` process, with a VM of each hypervisor in flight:
 * the process stops starting VMs, removes every snapshot and checkpoint it took, and exits 1.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEMO_PASSWORD_ENV, labConfig, startLab, type Lab } from "../../src/cli/app/lab.js";
import { runCli } from "../../src/cli/run.js";
import { SNAPSHOT_PREFIX } from "../../src/domain/hypervisor.js";
import { captureIo } from "./capture-io.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

describe("SIGINT to a running snapvisor backup", () => {
  let lab: Lab;
  let dir: string;
  let configFile: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "snapvisor-sigint-"));
    lab = await startLab({ dir });
    configFile = join(dir, "snapvisor.json");
    // One VM at a time: when the signal comes, most VMs have not started.
    await writeFile(
      configFile,
      JSON.stringify({ ...labConfig(lab, join(dir, "repo")), limits: { global: 1, perHost: 1 } }),
    );
    const io = captureIo();
    assert.equal(await runCli(["repo", "init", join(dir, "repo")], io), 0, io.err());
  });
  after(async () => {
    await lab.stop();
    await rm(dir, { recursive: true, force: true });
  });

  for (const group of ["lab", "lab-hyperv"]) {
    it(`removes every snapshot and checkpoint it took, starts no more VMs, and exits 1 (--group ${group})`, async () => {
      const child = spawn(process.execPath, [MAIN, "backup", "--config", configFile, "--group", group], {
        env: { ...process.env, [DEMO_PASSWORD_ENV]: lab.vspherePassword, SNAPVISOR_LOG_LEVEL: "error" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      let signalled = false;
      child.stdout.on("data", (c: Buffer) => (out += c.toString()));
      child.stderr.on("data", (c: Buffer) => {
        err += c.toString();
        // The first VM is being read (plain progress on a pipe): its snapshot is open now.
        if (!signalled && /: started, /.test(err)) {
          signalled = true;
          child.kill("SIGINT");
        }
      });
      const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
      assert.ok(signalled, err);
      assert.equal(code, 1, `${out}\n${err}`);
      assert.match(err, /SIGINT: stopping; snapshots already taken are being removed/);
      assert.match(out, /\baborted\b/);
      const started = err.match(/: started, /g)?.length ?? 0;
      assert.ok(started <= 2, `no VM starts after the signal (${started} started):\n${err}`);

      const state = await lab.control("GET", "/state");
      const vms = (
        JSON.parse(state.body.toString()) as { vms: { name: string; snapshots: { name: string }[] }[] }
      ).vms;
      for (const vm of vms)
        assert.deepEqual(
          vm.snapshots.map((s) => s.name).filter((n) => n.startsWith(SNAPSHOT_PREFIX)),
          [],
          `vSphere ${vm.name}`,
        );
      assert.deepEqual(
        lab.hyperv.model.snapshots.map((s) => s.name).filter((n) => n.startsWith(SNAPSHOT_PREFIX)),
        [],
        "Hyper-V checkpoints",
      );
    });
  }
});
