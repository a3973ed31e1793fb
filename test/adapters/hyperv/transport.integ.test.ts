import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { PowerShell } from "node-powershell";
import { LocalTransport, SshTransport } from "../../../adapters/hyperv/index.js";
import { startLab, type Lab } from "./harness.js";

describe("transports against the simulator", () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab({ nodes: [{ name: "HV01" }], vms: [] });
  });
  after(async () => lab.close());

  function ssh(overrides: Partial<ConstructorParameters<typeof SshTransport>[0]> = {}): SshTransport {
    const n = lab.sim.nodes[0];
    assert.ok(n);
    return new SshTransport({
      host: n.ssh.host,
      port: n.ssh.port,
      username: lab.sim.credentials.username,
      password: lab.sim.credentials.password,
      hostKeyFingerprint: n.ssh.hostKeyFingerprint,
      ...overrides,
    });
  }

  it("refuses a host whose key does not match the pinned fingerprint", async () => {
    const t = ssh({ hostKeyFingerprint: `SHA256:${"A".repeat(43)}` });
    await assert.rejects(
      t.run("1"),
      (e: Error & { code?: string }) =>
        e.code === "HYPERV_HOST_KEY_MISMATCH" &&
        e.message.includes(lab.sim.nodes[0]?.ssh.hostKeyFingerprint ?? "?"),
    );
    await t.close();
  });

  it("reports refused authentication without echoing the password", async () => {
    const t = ssh({ password: "wrong-secret" });
    await assert.rejects(
      t.run("1"),
      (e: Error & { code?: string }) =>
        e.code === "HYPERV_AUTH_FAILED" && !e.message.includes("wrong-secret"),
    );
    await t.close();
  });

  it("rejects a fingerprint that is not a SHA-256 one at construction", () => {
    assert.throws(
      () => ssh({ hostKeyFingerprint: "MD5:aa:bb" }),
      (e: Error & { code?: string }) => e.code === "HYPERV_CONFIG_INVALID",
    );
  });

  it("runs a script fed on stdin and returns stdout and stderr apart", async () => {
    const t = ssh();
    const out = await t.run("[Console]::Out.WriteLine('out'); [Console]::Error.WriteLine('err')");
    assert.equal(out.stdout, "out\n");
    assert.equal(out.stderr, "err\n");
    await t.close();
  });

  it("speaks node-powershell's framing as the spawned executable", async () => {
    const ps = new PowerShell({
      executable: lab.sim.nodes[0]?.executable ?? "",
      throwOnInvocationError: false,
    });
    try {
      const a = await ps.invoke("$x = 40 + 2");
      assert.equal(a.hadErrors, false);
      const b = await ps.invoke("$x; Get-NoSuchThing");
      assert.equal(b.stdout?.toString().trim(), "42");
      assert.match(b.stderr?.toString() ?? "", /Get-NoSuchThing' is not recognized/);
    } finally {
      await ps.dispose();
    }
  });

  it(
    "runs a local call queued behind one that is aborted, instead of leaving it waiting forever",
    { timeout: 60_000 },
    async () => {
      // node-powershell clears its own queue when the shell is recycled, without settling what waited
      // in it; the transport keeps its callers in a line of its own so none is dropped.
      const t = new LocalTransport({ executable: lab.sim.nodes[0]?.executable ?? "" });
      try {
        assert.equal((await t.run("[Console]::Out.WriteLine(1)")).stdout.trim(), "1", "the shell is up");
        lab.sim.control.addFault({ kind: "hang", command: "Get-Date", times: 1 });
        const abort = new AbortController();
        const hung = t.run("Get-Date", abort.signal);
        const queued = t.run("[Console]::Out.WriteLine(2)");
        const waiting = new AbortController();
        const leaves = t.run("[Console]::Out.WriteLine(3)", waiting.signal);
        waiting.abort(new Error("SIGINT"));
        await assert.rejects(leaves, (e: Error & { code?: string }) => e.code === "HYPERV_ABORTED");
        abort.abort(new Error("SIGINT"));
        await assert.rejects(hung, (e: Error & { code?: string }) => e.code === "HYPERV_ABORTED");
        assert.equal((await queued).stdout.trim(), "2");
      } finally {
        await t.close();
      }
    },
  );

  it("answers with Windows PowerShell 5.1 JSON shapes: enums as numbers, dates as \\/Date(ms)\\/", async () => {
    await lab.close();
    lab = await startLab({
      nodes: [{ name: "HV01" }],
      vms: [
        {
          name: "v",
          id: "00000000-0000-4000-8000-000000000001",
          node: "HV01",
          state: "Running",
          disks: [{ path: "C:\\v\\d.vhdx", size: "4MiB" }],
          checkpoints: [{ name: "c1" }],
        },
      ],
    });
    const t = ssh();
    const out = await t.run(
      "$vm = Get-VM -Name v; [Console]::Out.WriteLine((ConvertTo-Json -InputObject @{ s = $vm.State; t = @(Get-VMSnapshot -VM $vm)[0].CreationTime; id = $vm.Id } -Compress))",
    );
    assert.match(out.stdout, /"s":2/);
    assert.match(out.stdout, /"t":"\\\/Date\(\d+\)\\\/"/);
    assert.match(out.stdout, /"id":"00000000-0000-4000-8000-000000000001"/);
    await t.close();
  });
});
