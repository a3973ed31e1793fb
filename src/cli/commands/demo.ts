import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runBackupCycle } from "../../controller/backup-cycle.js";
import { validateConfig } from "../../controller/config.js";
import { exitCodeOf, type JobSummary, type ObjectOutcome } from "../../controller/job-summary.js";
import { LocalStorage } from "../../repository/local-storage.js";
import { Repository } from "../../repository/repository.js";
import { repositoryMachineId, repositoryWriter } from "../../repository/repository-writer.js";
import { restoreToFile } from "../../repository/restore.js";
import { verifyRepository } from "../../repository/verify.js";
import { ExitCode, type CliIo } from "../command.js";
import { formatBytes, table } from "../format.js";
import { createProgressWriter } from "../progress.js";
import { parseCommandArgs } from "../args.js";
import { cliLogger, interruptSignal } from "../app/context.js";
import { DEMO_PASSWORD_ENV, labConfig, startLab, type Lab } from "../app/lab.js";

const HYPERV_GROUP = "lab-hyperv";
import { closeSessions, openConfigSessions } from "../app/sessions.js";
import type { BackupPlan } from "../../controller/plan.js";
import { newJobId } from "./backup.js";

/** Guest writes between the two backups: a few scattered 4 KiB blocks on each running VM's first disk. */
async function guestWrites(lab: Lab, plan: BackupPlan, summary: JobSummary): Promise<string[]> {
  const written: string[] = [];
  for (const o of summary.outcomes) {
    if (o.kind !== "vm" || !o.point || o.disks.length === 0) continue;
    // Only a running guest writes.
    if (plan.vms.find((p) => p.vm.id === o.id)?.vm.power !== "on") continue;
    const disk = o.disks[0]!;
    const offsets = [4096, Math.floor(disk.capacity / 2 / 4096) * 4096, disk.capacity - 8192];
    let ok = true;
    for (const [i, offset] of offsets.entries()) {
      if (o.group === HYPERV_GROUP) {
        ok = await lab.hyperv.control.writePattern(o.name, 0, offset, 4096, 1000 + i).then(
          () => true,
          () => false,
        );
      } else {
        const r = await lab.control("POST", `/vms/${encodeURIComponent(o.name)}/write`, {
          disk: Number(disk.key),
          offset,
          length: 4096,
          seed: 1000 + i,
        });
        ok = r.status === 200;
      }
      if (!ok) break;
    }
    if (ok) written.push(o.name);
  }
  return written;
}

/** What the simulator holds now for a disk of a backed-up object (no writes since the backup). */
async function simulatorDisk(
  lab: Lab,
  plan: BackupPlan,
  o: ObjectOutcome,
  key: string,
  capacity: number,
): Promise<Buffer | undefined> {
  const shared = plan.sharedDisks.find((s) => s.id === o.id);
  const vm = plan.vms.find((p) => p.vm.id === o.id)?.vm;
  const hypervPath =
    shared?.path ?? (vm?.hypervisor === "hyperv" ? vm.disks.find((d) => d.key === key)?.path : undefined);
  if (hypervPath) return Buffer.from(await lab.hyperv.control.readDisk(hypervPath, 0, capacity));
  const r = await lab.control("GET", `/vms/${encodeURIComponent(o.name)}/disks/${key}/content`);
  return r.status === 200 ? r.body : undefined;
}

/** Restores each disk of each point of `summary` and compares it with the simulator's disk now. */
async function restoreCheck(
  lab: Lab,
  repo: Repository,
  plan: BackupPlan,
  summary: JobSummary,
  dir: string,
): Promise<Map<string, string>> {
  const results = new Map<string, string>();
  for (const o of summary.outcomes) {
    if (o.kind === "source" || !o.point) continue;
    const ref = { machineId: repositoryMachineId(o.id), pointId: o.point.id };
    const manifest = await repo.readManifest(ref);
    let verdict = "identical";
    for (const d of manifest.disks) {
      const out = join(dir, `restore-${ref.pointId}-${d.key.replace(/[^A-Za-z0-9]/g, "_")}.raw`);
      await restoreToFile(repo, ref, d.key, out);
      const expected = await simulatorDisk(lab, plan, o, d.key, d.capacity);
      const same = expected !== undefined && (await readFile(out)).equals(expected);
      await rm(out, { force: true });
      if (!same) verdict = `DIFFERS (disk ${d.key})`;
    }
    results.set(o.id, verdict);
  }
  return results;
}

export async function demo(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values } = parseCommandArgs("demo", args, { dir: { type: "string" }, keep: { type: "boolean" } });
  const dir = values.dir ? resolve(values.dir) : await mkdtemp(join(tmpdir(), "snapvisor-demo-"));
  const say = (line: string) => void io.stderr.write(`${line}\n`);
  const lab = await startLab({ dir });
  const interrupt = interruptSignal(io);
  // The demo prints each VM's outcome itself; logs only when asked for (SNAPVISOR_LOG_LEVEL).
  const logger = cliLogger(io, "silent");
  const repoDir = join(dir, "repo");
  try {
    say(
      `Lab: vCenter simulator at ${lab.vsphere.sdkUrl} (certificate pinned by its SHA-256 thumbprint), Hyper-V cluster ${lab.hyperv.nodes.map((n) => n.name).join(" + ")} (PowerShell); repository ${repoDir}`,
    );
    const config = validateConfig(labConfig(lab, repoDir), "demo config");
    const storage = new LocalStorage(repoDir);
    const repo = await Repository.init(storage);
    const env = { ...io.env, [DEMO_PASSWORD_ENV]: lab.vspherePassword };
    const sessions = await openConfigSessions(env, config, { logger, signal: interrupt.signal });
    const clock = { now: () => new Date() };
    let plan: BackupPlan | undefined;
    const cycle = async (label: string) => {
      say(`\n${label}`);
      const progress = createProgressWriter("plain", io.stderr, clock);
      const { summary } = await runBackupCycle({
        config,
        sessions,
        repository: repositoryWriter(repo),
        clock,
        jobId: newJobId(clock.now()),
        logger,
        signal: interrupt.signal,
        onEvent: (e) => progress.onEvent(e),
        onPlan: (p) => {
          plan = p;
        },
      });
      progress.finish();
      return summary;
    };
    try {
      const full = await cycle("1. Full backup of every VM");
      const written = await guestWrites(lab, plan!, full);
      say(`\n2. Guest writes (3 blocks of 4 KiB) on ${written.join(", ") || "no VM"}`);
      const incremental = await cycle("3. Incremental backup (changed blocks from CBT)");
      say("\n4. Verify: every chunk of every point re-read and re-hashed");
      const report = await verifyRepository(repo, undefined);
      const verifyOk = report.brokenPoints.length === 0 && report.chunkProblems.length === 0;
      say(
        `   ${report.pointsChecked} points, ${report.chunksChecked} chunks: ${verifyOk ? "no problems" : "PROBLEMS FOUND"}`,
      );
      say("\n5. Restore check: each disk of each new point restored and compared with the simulator's disk");
      const restored = await restoreCheck(lab, repo, plan!, incremental, dir);

      const fullById = new Map(full.outcomes.map((o) => [o.id, o]));
      const rows = incremental.outcomes.map((o) => {
        const c = o.consistency;
        const size = o.disks.reduce((n, d) => n + d.capacity, 0);
        const f = fullById.get(o.id);
        return [
          o.name,
          c ? `${c.expected} / ${c.achieved}` : "-",
          formatBytes(size),
          f?.point ? formatBytes(f.point.bytesRead) : "-",
          o.point ? formatBytes(o.point.bytesRead) : "-",
          `${o.status}${restored.has(o.id) ? `, restore ${restored.get(o.id)}` : ""}`,
          [c?.reason, ...o.messages].filter((x) => !!x).join("; ") || "-",
        ];
      });
      io.stdout.write(
        "\n" +
          table(
            ["VM", "EXPECTED / ACHIEVED", "DISK SIZE", "READ (FULL)", "READ (INCR)", "RESULT", "WHY"],
            rows,
          ),
      );
      const restoreOk = [...restored.values()].every((v) => v === "identical") && restored.size > 0;
      io.stdout.write(
        `\nverify: ${verifyOk ? "clean" : "BROKEN"}; restores: ${restoreOk ? "all byte-identical" : "MISMATCH"}; repository: ${repoDir}\n`,
      );
      if (!verifyOk || !restoreOk) return ExitCode.failed;
      // Otherwise the jobs' own verdict: a failed VM fails the demo, a fallback warns.
      return exitCodeOf([...full.outcomes, ...incremental.outcomes]);
    } finally {
      await closeSessions(sessions);
    }
  } finally {
    interrupt.dispose();
    await lab.stop();
    if (!values.keep && !values.dir) await rm(dir, { recursive: true, force: true });
  }
}
