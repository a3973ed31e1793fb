import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectVsphere } from "../../adapters/vsphere/index.js";
import { runBackupCycle } from "../../src/controller/backup-cycle.js";
import { validateConfig } from "../../src/controller/config.js";
import { MemoryStorage } from "../../src/repository/memory-storage.js";
import { Repository } from "../../src/repository/repository.js";
import { repositoryWriter } from "../../src/repository/repository-writer.js";
import { startVsphereSimulator } from "../../simulators/vsphere/index.js";

const MiB = 1024 * 1024;

describe("the backup job's limits, counted by the vSphere simulator", () => {
  // 12 is no limit for 6 VMs per datastore: it shows the job does overlap VMs when allowed.
  for (const limit of [1, 2, 12]) {
    const title =
      limit === 12
        ? "has more than 2 VMs with open snapshots on a datastore when the limits allow it"
        : `never has more than ${limit} VMs with open snapshots per datastore (openSnapshotsPerDatastore: ${limit})`;
    it(title, async () => {
      const dir = await mkdtemp(join(tmpdir(), "snapvisor-limits-"));
      const sim = await startVsphereSimulator({
        dir,
        scenario: {
          credentials: { user: "u", password: "p-limits" },
          datacenters: [
            {
              name: "DC",
              datastores: [{ name: "ds-a" }, { name: "ds-b" }],
              hosts: [{ name: "esx-1" }, { name: "esx-2" }, { name: "esx-3" }],
              vms: Array.from({ length: 12 }, (_, i) => ({
                name: `vm-${i}`,
                host: `esx-${(i % 3) + 1}`,
                guest: { id: "ubuntu64Guest", fullName: "Ubuntu Linux (64-bit)" },
                tools: "running" as const,
                power: "on" as const,
                disks: [
                  {
                    capacity: 4 * MiB,
                    datastore: i % 2 ? "ds-a" : "ds-b",
                    data: [{ offset: 0, length: MiB, seed: i + 1 }],
                  },
                ],
              })),
            },
          ],
        },
      });
      try {
        const session = await connectVsphere({
          url: sim.sdkUrl,
          username: "u",
          password: "p-limits",
          tls: { thumbprint: sim.thumbprint },
        });
        const config = validateConfig({
          vsphere: [
            {
              name: "sim",
              url: sim.sdkUrl,
              user: "u",
              password: { env: "X" },
              tls: { thumbprint: sim.thumbprint },
            },
          ],
          repository: { path: dir },
          protectionGroups: [{ name: "all", source: "sim", vms: [{ pattern: "*" }] }],
          limits: { global: 12, perHost: 12, perDatastore: 12, openSnapshotsPerDatastore: limit },
        });
        const repo = await Repository.init(new MemoryStorage(), { chunkSize: 64 * 1024 });
        const { summary } = await runBackupCycle({
          config,
          sessions: new Map([["sim", session]]),
          repository: repositoryWriter(repo),
          clock: { now: () => new Date() },
          jobId: "limits",
        });
        await session.close();
        assert.equal(summary.exitCode, 0, JSON.stringify(summary.outcomes.map((o) => o.messages)));
        assert.equal(summary.outcomes.filter((o) => o.point).length, 12);
        const max = Object.fromEntries(sim.model.maxOpenSnapshots);
        assert.deepEqual(
          Object.keys(max).sort(),
          ["ds-a", "ds-b"],
          "the simulator saw snapshots on both datastores",
        );
        if (limit === 12)
          assert.ok(
            Object.values(max).some((n) => n > 2),
            `more than 2 at once somewhere: ${JSON.stringify(max)}`,
          );
        else assert.deepEqual(max, { "ds-a": limit, "ds-b": limit }, "the limit, reached and held");
        assert.deepEqual(Object.fromEntries(sim.model.openSnapshots()), {}, "every snapshot removed");
      } finally {
        await sim.stop();
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});
