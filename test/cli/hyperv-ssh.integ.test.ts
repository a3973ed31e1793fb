import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ed25519KeyPair } from "../../simulators/common/ssh-keys.js";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEMO_HYPERV_SCENARIO } from "../../src/cli/app/lab.js";
import { runCli } from "../../src/cli/run.js";
import { loadScenario, startHypervSimulator, type HypervSimulator } from "../../simulators/hyperv/index.js";
import { captureIo } from "./capture-io.js";

describe("a Hyper-V cluster reached over SSH with a key, from the config", () => {
  let sim: HypervSimulator;
  let dir: string;
  let keyFile: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "snapvisor-hv-ssh-"));
    const keys = ed25519KeyPair();
    keyFile = join(dir, "id_ed25519");
    await writeFile(keyFile, keys.private, { mode: 0o600 });
    sim = await startHypervSimulator({
      scenario: await loadScenario(DEMO_HYPERV_SCENARIO),
      dir: join(dir, "sim"),
      credentials: {
        username: "LAB\\svc-backup",
        password: "not-used-here-1",
        authorizedKeys: [keys.public],
      },
    });
  });
  after(async () => {
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function inventory(hostKey: string, key = keyFile) {
    const node = sim.nodes[0]!;
    const config = join(dir, "c.json");
    await writeFile(
      config,
      JSON.stringify({
        hyperv: {
          clusters: [
            {
              name: "hv",
              nodes: [
                {
                  name: node.name,
                  transport: {
                    ssh: {
                      host: node.ssh.host,
                      port: node.ssh.port,
                      user: "LAB\\svc-backup",
                      keyFile: key,
                      hostKey,
                    },
                  },
                },
              ],
            },
          ],
        },
        repository: { path: join(dir, "repo") },
        protectionGroups: [{ name: "all", source: "hv", vms: [{ pattern: "*" }] }],
      }),
    );
    const io = captureIo({});
    const code = await runCli(["inventory", "--config", config], io);
    return { code, out: io.out(), err: io.err() };
  }

  it("lists the cluster's VMs with the key and the pinned host key", async () => {
    const r = await inventory(sim.nodes[0]!.ssh.hostKeyFingerprint);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /sql-01\s+HVCLU01\/HV01/);
    assert.match(r.out, /shared disks:/);
  });

  it("refuses a host whose key is not the pinned one", async () => {
    const r = await inventory(`SHA256:${"A".repeat(43)}`);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /host key|fingerprint/i);
  });

  it("refuses a key the host does not authorize", async () => {
    const other = join(dir, "other_key");
    await writeFile(other, ed25519KeyPair().private, { mode: 0o600 });
    const r = await inventory(sim.nodes[0]!.ssh.hostKeyFingerprint, other);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /authentication|SSH/i);
  });
});
