/**
 * VMs added and removed between two `snapvisor backup` runs, on both hypervisors: the simulators'
 * inventories change (a VM deployed, one unregistered / Remove-VM), the job history carries each
 * group's members from one run to the next, and the second summary names the changes.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEMO_PASSWORD_ENV, labConfig, startLab, type Lab } from "../../src/cli/app/lab.js";
import { runCli } from "../../src/cli/run.js";
import type { JobSummary } from "../../src/controller/job-summary.js";
import { captureIo } from "./capture-io.js";

describe("VMs added and removed between runs, on vSphere and Hyper-V", () => {
  let lab: Lab;
  let dir: string;
  let configFile: string;
  let env: Record<string, string>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "snapvisor-members-"));
    lab = await startLab({ dir });
    const base = labConfig(lab, join(dir, "repo"));
    configFile = join(dir, "snapvisor.json");
    await writeFile(
      configFile,
      JSON.stringify({
        ...base,
        protectionGroups: [
          { name: "vs", source: "lab-vcenter", vms: [{ pattern: "kiosk-*" }] },
          { name: "hv", source: "lab-hyperv", vms: [{ pattern: "legacy-*" }] },
        ],
      }),
    );
    env = { [DEMO_PASSWORD_ENV]: lab.vspherePassword };
    const io = captureIo();
    assert.equal(await runCli(["repo", "init", join(dir, "repo")], io), 0, io.err());
  });
  after(async () => {
    await lab.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function backup(): Promise<{ code: number; summary: JobSummary; err: string }> {
    const io = captureIo(env);
    const code = await runCli(["backup", "--config", configFile, "--json"], io);
    const last = io.out().trim().split("\n").at(-1) ?? "{}";
    const summary = JSON.parse(last) as JobSummary & { type: string };
    assert.equal(summary.type, "summary", io.out());
    return { code, summary, err: io.err() };
  }

  function modes(summary: JobSummary): Record<string, string> {
    return Object.fromEntries(
      summary.outcomes
        .filter((o) => o.kind === "vm")
        .map((o) => [o.name, `${o.status} ${o.disks.map((d) => d.mode).join(",")}`]),
    );
  }

  it("reports the VM deployed and the one removed in each group; the new VM is read in full, the kept one incrementally", async () => {
    const first = await backup();
    assert.equal(first.code, 0, first.err);
    assert.deepEqual(modes(first.summary), {
      "kiosk-07": "ok full",
      "legacy-05": "ok full",
      "legacy-06": "ok full",
    });
    assert.deepEqual(first.summary.changes, [], "no history yet: nothing to compare with");

    // vSphere: a VM deployed on esx-03 (matches kiosk-*), and kiosk-07 unregistered.
    const added = await lab.control("POST", "/vms", {
      name: "kiosk-09",
      host: "esx-03.lab.local",
      guest: { id: "otherLinux64Guest", fullName: "Other Linux (64-bit)" },
      tools: "not-installed",
      power: "on",
      changeTracking: true,
      disks: [
        { capacity: 8 * 2 ** 20, datastore: "nfs-02", data: [{ offset: 0, length: 2 ** 20, seed: 5 }] },
      ],
    });
    assert.equal(added.status, 201, added.body.toString());
    const removed = await lab.control("DELETE", "/vms/kiosk-07");
    assert.equal(removed.status, 200, removed.body.toString());
    // Hyper-V: New-VM legacy-11, Remove-VM legacy-06 (off).
    await lab.hyperv.control.addVm({
      name: "legacy-11",
      id: "6a0f2d4e-1c7b-4d2a-9e41-0c5b8f1a2b21",
      node: "HV02",
      state: "Running",
      integrationServices: { installed: false },
      disks: [{ path: "C:\\ClusterStorage\\Volume2\\legacy-11\\os.vhdx", size: "8MiB" }],
      writes: [{ offset: 0, length: "1MiB", seed: 6 }],
    });
    lab.hyperv.control.removeVm("legacy-06");
    await lab.hyperv.control.writePattern("legacy-05", 0, 0, 4096, 7);

    const second = await backup();
    assert.equal(second.code, 0, second.err);
    assert.deepEqual(second.summary.changes, [
      { group: "vs", added: ["kiosk-09"], removed: ["kiosk-07"] },
      { group: "hv", added: ["legacy-11"], removed: ["legacy-06"] },
    ]);
    assert.deepEqual(modes(second.summary), {
      "kiosk-09": "ok full",
      "legacy-05": "ok incremental",
      "legacy-11": "ok full",
    });
    const reasons = second.summary.outcomes.flatMap((o) => o.disks.map((d) => [o.name, d.reason]));
    assert.deepEqual(
      reasons.filter(([, r]) => r !== ""),
      [
        ["kiosk-09", "first backup: no previous point"],
        ["legacy-11", "first backup: no previous point"],
      ],
    );
  });

  it("refuses to remove a running VM, as both hypervisors do", async () => {
    const r = await lab.control("DELETE", "/vms/kiosk-09");
    assert.equal(r.status, 409);
    assert.match(r.body.toString(), /InvalidPowerState|powered/i);
    assert.throws(() => lab.hyperv.control.removeVm("legacy-11"), /current state \(Running\)/);
  });
});
