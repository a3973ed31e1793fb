import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { access, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectHyperv } from "../../adapters/hyperv/index.js";
import { connectVsphere } from "../../adapters/vsphere/index.js";
import { scenarioKind } from "../../src/cli/app/scenario-kind.js";
import { runCli } from "../../src/cli/run.js";
import { DEMO_HYPERV_SCENARIO, DEMO_VSPHERE_SCENARIO } from "../../src/cli/app/lab.js";
import { captureIo } from "./capture-io.js";

interface Endpoints {
  dir: string;
  vsphere: { sdkUrl: string; thumbprint: string };
  hyperv: {
    nodes: { name: string; executable: string; ssh: { host: string; port: number; hostKey: string } }[];
    filesRoot: string;
    ssh: { username: string; password: string };
  };
}

describe("snapvisor sim", () => {
  it("starts both simulators from their scenario files, prints endpoints that work, and stops on SIGINT", async () => {
    const abort = new AbortController();
    const io = captureIo();
    const running = runCli(["sim", "--scenario", DEMO_HYPERV_SCENARIO, "--scenario", DEMO_VSPHERE_SCENARIO], {
      ...io,
      signal: abort.signal,
    });
    // The endpoints line is the command's first output.
    const exited = running.then(() => undefined);
    await Promise.race([once(io.stdout, "data"), exited]);
    const ep = JSON.parse(io.out()) as Endpoints;
    try {
      const vs = await connectVsphere({
        url: ep.vsphere.sdkUrl,
        username: "administrator@vsphere.local",
        password: "Lab-Passw0rd!",
        tls: { thumbprint: ep.vsphere.thumbprint },
      });
      assert.ok((await vs.inventory()).some((v) => v.name === "sql-01"));
      await vs.close();
      const node = ep.hyperv.nodes[0];
      assert.ok(node);
      for (const session of [
        connectHyperv({ transport: "local", executable: node.executable, filesRoot: ep.hyperv.filesRoot }),
        connectHyperv({
          transport: "ssh",
          host: node.ssh.host,
          port: node.ssh.port,
          username: ep.hyperv.ssh.username,
          password: ep.hyperv.ssh.password,
          hostKeyFingerprint: node.ssh.hostKey,
        }),
      ]) {
        assert.ok((await session.inventory()).some((v) => v.name === "gc-node-a"));
        await session.close();
      }
    } finally {
      abort.abort();
    }
    assert.equal(await running, 0, io.err());
    await assert.rejects(access(ep.dir), "its temporary directory is removed");
  });

  it("refuses a file that is no scenario, and two scenarios of one kind", async () => {
    const dir = await mkdtemp(join(tmpdir(), "snapvisor-sim-bad-"));
    try {
      const bad = join(dir, "bad.yaml");
      await writeFile(bad, "repository: { path: /x }\n");
      const io = captureIo();
      assert.equal(await runCli(["sim", "--scenario", bad], io), 2);
      assert.match(io.err(), /neither a vSphere scenario .* nor a Hyper-V one .*; its keys are repository/);
      const twice = captureIo();
      assert.equal(
        await runCli(
          ["sim", "--scenario", DEMO_VSPHERE_SCENARIO, "--scenario", DEMO_VSPHERE_SCENARIO],
          twice,
        ),
        2,
      );
      assert.match(twice.err(), /two vSphere scenarios given/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    assert.equal(scenarioKind({ nodes: [] }, "f"), "hyperv");
    assert.equal(scenarioKind({ datacenters: [] }, "f"), "vsphere");
  });
});
