import { isSnapvisorError, messageOf, SnapvisorError } from "../domain/errors.js";
import { repoError } from "./errors.js";
import { openLocalRepository } from "./open.js";
import type { ReplicationReport } from "./replicate.js";
import { runReplication } from "./replication-jobs.js";
import { listOutbound, replicatesMachine, type OutboundReplication } from "./replication-state.js";
import type { Repository } from "./repository.js";

/** Opens the target of a replication (by its recorded location) under a `backup` lock. */
export type TargetOpener = (
  record: OutboundReplication,
) => Promise<{ repo: Repository; close(): Promise<void> }>;

/**
 * Opens targets that are local directories (or mounts) under a `backup` lock, and refuses a
 * repository at the recorded location that is not the recorded target (moved, or re-created).
 */
export function localTargetOpener(options: {
  passphrase: () => Promise<string | undefined>;
  command?: string;
}): TargetOpener {
  return async (record) => {
    const opened = await openLocalRepository(record.target.location, {
      mode: "backup",
      command: options.command ?? "replicate",
      passphrase: options.passphrase,
    });
    if (opened.repo.config.id !== record.target.id) {
      await opened.close();
      throw repoError(
        "REPLICATION_NOT_FOUND",
        `The repository at ${record.target.location} is ${opened.repo.config.id}, not the replication's target ${record.target.id} (moved or re-created?)`,
        {
          details: {
            location: record.target.location,
            expected: record.target.id,
            found: opened.repo.config.id,
          },
        },
      );
    }
    return opened;
  };
}

export interface AfterBackupResult {
  readonly targetId: string;
  readonly report?: ReplicationReport;
  readonly error?: SnapvisorError;
}

/**
 * The controller's post-backup hook: replicates `machineId` to every target whose schedule is
 * "after-backup" (the default) and that does not pause it. One failing target does not stop the
 * others, nor fail the backup: its error is returned (and recorded in the replication's state).
 */
export async function replicateAfterBackup(
  source: Repository,
  machineId: string,
  openTarget: TargetOpener,
  options: { signal?: AbortSignal; now?: () => Date } = {},
): Promise<AfterBackupResult[]> {
  const results: AfterBackupResult[] = [];
  for (const record of await listOutbound(source.storage)) {
    if (record.schedule !== "after-backup" || !replicatesMachine(record, machineId)) continue;
    try {
      const target = await openTarget(record);
      try {
        const { report } = await runReplication(source, target.repo, { ...options, machines: [machineId] });
        results.push({ targetId: record.target.id, report });
      } finally {
        await target.close();
      }
    } catch (err) {
      const error = isSnapvisorError(err)
        ? err
        : new SnapvisorError("STORAGE_IO", `Replication to ${record.target.id} failed: ${messageOf(err)}`, {
            cause: err,
          });
      results.push({ targetId: record.target.id, error });
    }
  }
  return results;
}
