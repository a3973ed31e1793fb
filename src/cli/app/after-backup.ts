/**
 * What happens after a backup job: the job history line, then replication of each machine that got
 * a new point to every target set up with the "after-backup" schedule. A failing target is reported
 * and never fails the backup. The replication engine is imported only when a replication is set up
 * (docs/cli-startup.md): most repositories replicate nowhere.
 */
import type { Config } from "../../controller/config-schema.js";
import { resolveSecret } from "../../controller/config.js";
import type { JobSummary } from "../../controller/job-summary.js";
import type { Repository } from "../../repository/repository.js";
import { repositoryMachineId } from "../../repository/repository-writer.js";
import { listOutbound } from "../../repository/replication-state.js";
import { messageOf } from "../../domain/errors.js";
import { isDue } from "../commands/replication-due.js";
import { openConfiguredRepository } from "./context.js";
import type { CliIo } from "../command.js";
import { formatBytes } from "../format.js";
import { secretSources } from "./sessions.js";

/** Targets share the source's keys: their passphrase is the source's unless given apart. */
function targetPassphrase(io: CliIo, config: Config): () => Promise<string | undefined> {
  const secret = config.repository.passphrase;
  return async () =>
    io.env["SNAPVISOR_TARGET_PASSPHRASE"] ??
    (secret
      ? await resolveSecret(secret, secretSources(io.env), "repository.passphrase")
      : io.env["SNAPVISOR_PASSPHRASE"]);
}

export async function replicateNewPoints(
  io: CliIo,
  config: Config,
  repo: Repository,
  summary: JobSummary,
  signal?: AbortSignal,
): Promise<string[]> {
  if (!(await listOutbound(repo.storage)).some((r) => r.schedule === "after-backup")) return [];
  const { localTargetOpener, replicateAfterBackup } = await import("../../repository/replication-hook.js");
  const secret = config.repository.passphrase;
  const passphrase = async () =>
    io.env["SNAPVISOR_TARGET_PASSPHRASE"] ??
    (secret
      ? await resolveSecret(secret, secretSources(io.env), "repository.passphrase")
      : io.env["SNAPVISOR_PASSPHRASE"]);
  const opener = localTargetOpener({ passphrase, command: "replicate after backup" });
  const lines: string[] = [];
  for (const o of summary.outcomes) {
    if (!o.point) continue;
    const results = await replicateAfterBackup(
      repo,
      repositoryMachineId(o.id),
      opener,
      signal ? { signal } : {},
    );
    for (const r of results) {
      lines.push(
        r.error
          ? `replication of ${o.name} to ${r.targetId} failed: ${r.error.message} [${r.error.code}]`
          : `replicated ${o.name} to ${r.targetId}: ${formatBytes(r.report?.bytesSent ?? 0)} sent`,
      );
    }
  }
  return lines;
}

/**
 * Replications set up with their own schedule (`replication setup --schedule "daily 02:00"`), run
 * by `snapvisor run` when due. Each source repository is opened under a read lock only while it runs.
 */
export async function runDueReplications(
  io: CliIo,
  config: Config,
  now: Date,
  signal?: AbortSignal,
): Promise<string[]> {
  const opened = await openConfiguredRepository(io, config, "read", "scheduled replication");
  const lines: string[] = [];
  try {
    const due = (await listOutbound(opened.repo.storage)).filter((r) => isDue(r, now));
    if (due.length === 0) return lines;
    const { localTargetOpener } = await import("../../repository/replication-hook.js");
    const { runReplication } = await import("../../repository/replication-jobs.js");
    const opener = localTargetOpener({
      passphrase: targetPassphrase(io, config),
      command: "scheduled replication",
    });
    for (const record of due) {
      try {
        const target = await opener(record);
        try {
          const { report } = await runReplication(opened.repo, target.repo, signal ? { signal } : {});
          lines.push(`replicated to ${record.target.id} on schedule: ${formatBytes(report.bytesSent)} sent`);
        } finally {
          await target.close();
        }
      } catch (err) {
        lines.push(`scheduled replication to ${record.target.id} failed: ${messageOf(err)}`);
      }
    }
  } finally {
    await opened.close();
  }
  return lines;
}
