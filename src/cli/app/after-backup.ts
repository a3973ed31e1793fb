/**
 * What happens after a backup job: the job history line, then replication of each machine that got
 * a new point to every target set up with the "after-backup" schedule. A failing target is reported
 * and never fails the backup.
 */
import type { Config } from "../../controller/config-schema.js";
import { resolveSecret } from "../../controller/config.js";
import type { JobSummary } from "../../controller/job-summary.js";
import type { Repository } from "../../repository/repository.js";
import { repositoryMachineId } from "../../repository/repository-writer.js";
import { localTargetOpener, replicateAfterBackup } from "../../repository/replication-hook.js";
import type { CliIo } from "../command.js";
import { formatBytes } from "../format.js";
import { secretSources } from "./sessions.js";

export async function replicateNewPoints(
  io: CliIo,
  config: Config,
  repo: Repository,
  summary: JobSummary,
  signal?: AbortSignal,
): Promise<string[]> {
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
