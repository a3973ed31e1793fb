import { setTimeout as sleep } from "node:timers/promises";
import { runBackupCycle } from "../../controller/backup-cycle.js";
import type { Config } from "../../controller/config-schema.js";
import { lastRuns, previousMembers } from "../../controller/history.js";
import type { JobSummary } from "../../controller/job-summary.js";
import { Limiter } from "../../controller/limits.js";
import { runScheduler } from "../../controller/scheduler.js";
import { SnapvisorError, isSnapvisorError, messageOf } from "../../domain/errors.js";
import type { Logger } from "../../domain/ports.js";
import { repositoryWriter } from "../../repository/repository-writer.js";
import { ExitCode, type CliIo } from "../command.js";
import { replicateNewPoints, runDueReplications } from "../app/after-backup.js";
import { openConfiguredRepository, withControllerContext } from "../app/context.js";
import { appendHistory, readHistory } from "../app/job-output.js";
import { closeSessions, openConfigSessions } from "../app/sessions.js";
import { parseCommandArgs } from "../args.js";
import { formatSummary } from "../summary.js";
import { newJobId } from "./backup.js";

interface JobContext {
  readonly io: CliIo;
  readonly config: Config;
  readonly logger: Logger;
  readonly limiter: Limiter;
  readonly clock: { now(): Date };
}

/** One scheduled job: its own repository lock and sessions, so prune and gc can run between jobs. */
async function runGroupJob(ctx: JobContext, group: string, signal: AbortSignal): Promise<JobSummary> {
  const { io, config, clock } = ctx;
  const source = config.protectionGroups.find((g) => g.name === group)?.source ?? "";
  const opened = await openConfiguredRepository(io, config, "backup", `run ${group}`);
  try {
    const sessions = await openConfigSessions(io.env, config, {
      logger: ctx.logger,
      signal,
      sources: [source],
    });
    try {
      const { summary } = await runBackupCycle({
        config,
        sessions,
        repository: repositoryWriter(opened.repo),
        clock,
        jobId: newJobId(clock.now()),
        groups: [group],
        previousMembers: previousMembers(await readHistory(config)),
        limiter: ctx.limiter,
        logger: ctx.logger,
        signal,
      });
      io.stdout.write(`group ${group}:\n${formatSummary(summary)}`);
      await appendHistory(config, summary, { groups: [group], trigger: "schedule", partial: false });
      for (const line of await replicateNewPoints(io, config, opened.repo, summary, signal))
        io.stderr.write(`${line}\n`);
      return summary;
    } finally {
      await closeSessions(sessions);
    }
  } finally {
    await opened.close();
  }
}

/** A job that could not start (repository busy, source unreachable) is a failed job, in the history too. */
async function failedJob(ctx: JobContext, group: string, startedAt: Date, err: unknown): Promise<JobSummary> {
  const source = ctx.config.protectionGroups.find((g) => g.name === group)?.source ?? "";
  const message = `Job of group ${group} could not run: ${messageOf(err)}`;
  const summary: JobSummary = {
    jobId: newJobId(startedAt),
    startedAt,
    finishedAt: ctx.clock.now(),
    outcomes: [
      {
        kind: "source",
        id: source,
        name: source,
        group,
        status: "failed",
        messages: [message],
        disks: [],
        leftoversRemoved: [],
        errorCode: isSnapvisorError(err) ? err.code : "VM_FAILED",
      },
    ],
    changes: [],
    exitCode: 1,
  };
  ctx.io.stderr.write(`snapvisor: ${message}\n`);
  await appendHistory(ctx.config, summary, { groups: [group], trigger: "schedule", partial: false }).catch(
    () => {},
  );
  return summary;
}

export async function run(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values } = parseCommandArgs("run", args, { config: { type: "string" } });
  if (!values.config) throw new SnapvisorError("USAGE", "run: --config FILE is required");
  return withControllerContext(io, values.config, async ({ config, logger, signal }) => {
    const ctx: JobContext = {
      io,
      config,
      logger,
      limiter: new Limiter(config.limits),
      clock: { now: () => new Date() },
    };
    io.stderr.write(
      `snapvisor: scheduling ${config.protectionGroups.length} groups; SIGINT or SIGTERM stops\n`,
    );
    // Replications on their own schedule: looked at every minute beside the backup jobs.
    const replications = (async () => {
      while (!signal.aborted) {
        try {
          for (const line of await runDueReplications(io, config, ctx.clock.now(), signal))
            io.stderr.write(`${line}\n`);
        } catch (err) {
          if (!signal.aborted) io.stderr.write(`snapvisor: scheduled replications: ${messageOf(err)}\n`);
        }
        await sleep(60_000, undefined, { signal }).catch(() => {});
      }
    })();
    await runScheduler({
      groups: config.protectionGroups,
      lastRuns: lastRuns(await readHistory(config)),
      clock: ctx.clock,
      sleep: (ms, s) => sleep(ms, undefined, { signal: s }),
      signal,
      // The scheduler's runner must not throw: failures become failed jobs.
      runGroup: async (group, s) => {
        const startedAt = ctx.clock.now();
        return runGroupJob(ctx, group, s).catch((err: unknown) => failedJob(ctx, group, startedAt, err));
      },
      onHookError: (group, err) =>
        void io.stderr.write(`snapvisor: after the job of group ${group}: ${messageOf(err)}\n`),
    });
    await replications;
    return ExitCode.ok;
  });
}
