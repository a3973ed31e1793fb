import { randomBytes } from "node:crypto";
import { runBackupCycle } from "../../controller/backup-cycle.js";
import { previousMembers } from "../../controller/history.js";
import { SnapvisorError } from "../../domain/errors.js";
import { repositoryWriter } from "../../repository/repository-writer.js";
import type { CliIo, ExitCode } from "../command.js";
import { chooseProgressMode, createProgressWriter, interjectingStream } from "../progress.js";
import { parseCommandArgs } from "../args.js";
import { openConfiguredRepository, withControllerContext } from "../app/context.js";
import { replicateNewPoints } from "../app/after-backup.js";
import { appendHistory, readHistory } from "../app/job-output.js";
import { closeSessions, openConfigSessions } from "../app/sessions.js";
import { formatSummary } from "../summary.js";

export function newJobId(now: Date): string {
  return `job-${now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z")}-${randomBytes(2).toString("hex")}`;
}

export async function backup(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values } = parseCommandArgs("backup", args, {
    config: { type: "string" },
    group: { type: "string", multiple: true },
    vm: { type: "string", multiple: true },
    json: { type: "boolean" },
  });
  if (!values.config)
    throw new SnapvisorError("USAGE", 'backup: --config FILE is required (or "backup image FILE")');
  const clock = { now: () => new Date() };
  const mode = chooseProgressMode({
    json: values.json === true,
    isTTY: (io.stderr as { isTTY?: boolean }).isTTY,
    term: io.env["TERM"],
  });
  const progress = createProgressWriter(mode, values.json ? io.stdout : io.stderr, clock);
  // On a TTY, logs and notices on stderr go above the bars instead of through them.
  const ctxIo = mode === "tty" ? { ...io, stderr: interjectingStream(progress) } : io;
  return withControllerContext(ctxIo, values.config, async ({ config, logger, signal }) => {
    const groups = values.group ?? config.protectionGroups.map((g) => g.name);
    const sources = new Set(
      config.protectionGroups.filter((g) => groups.includes(g.name)).map((g) => g.source),
    );
    const history = await readHistory(config);
    const opened = await openConfiguredRepository(io, config, "backup", "backup");
    const sessions = await openConfigSessions(io.env, config, {
      logger,
      signal,
      sources: [...sources],
    }).catch(async (err: unknown) => {
      await opened.close();
      throw err;
    });
    try {
      const { summary } = await runBackupCycle({
        config,
        sessions,
        repository: repositoryWriter(opened.repo),
        clock,
        jobId: newJobId(clock.now()),
        ...(values.group ? { groups: values.group } : {}),
        ...(values.vm ? { vmNames: values.vm } : {}),
        previousMembers: previousMembers(history),
        logger,
        signal,
        onEvent: (e) => progress.onEvent(e),
      });
      progress.finish();
      await appendHistory(config, summary, { groups, trigger: "manual", partial: values.vm !== undefined });
      // With --json the last line is the summary itself (every outcome, VMs added and removed).
      io.stdout.write(
        values.json
          ? JSON.stringify({ time: clock.now().toISOString(), type: "summary", ...summary }) + "\n"
          : formatSummary(summary),
      );
      for (const line of await replicateNewPoints(io, config, opened.repo, summary, signal))
        io.stderr.write(`${line}\n`);
      return summary.exitCode;
    } finally {
      progress.finish();
      await closeSessions(sessions);
      await opened.close();
    }
  });
}
