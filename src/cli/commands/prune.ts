import type { RetentionPolicy } from "../../domain/retention.js";
import { hasRetention } from "../../domain/retention.js";
import { SnapvisorError } from "../../domain/errors.js";
import { applyPrune, planPrune } from "../../repository/prune.js";
import { ExitCode, type CliIo } from "../command.js";
import { jsonLine } from "../format.js";
import { parseCommandArgs } from "../args.js";
import { intOption, withRepository } from "./repo-context.js";

export async function prune(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values } = parseCommandArgs("prune", args, {
    repo: { type: "string" },
    machine: { type: "string" },
    "keep-last": { type: "string" },
    "keep-hourly": { type: "string" },
    "keep-daily": { type: "string" },
    "keep-weekly": { type: "string" },
    "keep-monthly": { type: "string" },
    "keep-yearly": { type: "string" },
    "time-zone": { type: "string" },
    "dry-run": { type: "boolean" },
    json: { type: "boolean" },
  });
  const keep = (k: "last" | "hourly" | "daily" | "weekly" | "monthly" | "yearly") =>
    intOption("prune", `keep-${k}`, values[`keep-${k}`]);
  const entries = {
    keepLast: keep("last"),
    keepHourly: keep("hourly"),
    keepDaily: keep("daily"),
    keepWeekly: keep("weekly"),
    keepMonthly: keep("monthly"),
    keepYearly: keep("yearly"),
  };
  const policy: RetentionPolicy = Object.fromEntries(
    Object.entries(entries).filter(([, v]) => v !== undefined),
  );
  if (!hasRetention(policy)) {
    throw new SnapvisorError(
      "USAGE",
      "prune: give at least one --keep-* option (prune never removes everything by default)",
    );
  }
  const dryRun = values["dry-run"] === true;
  return withRepository(io, values.repo, dryRun ? "read" : "prune", "prune", async (repo) => {
    const plans = await planPrune(repo, policy, new Date(), {
      ...(values.machine ? { machineId: values.machine } : {}),
      ...(values["time-zone"] ? { timeZone: values["time-zone"] } : {}),
    });
    for (const plan of plans) {
      for (const d of plan.decisions) {
        if (values.json)
          io.stdout.write(jsonLine({ machine: plan.machineId, point: d.id, keep: d.keep, reason: d.reason }));
        else
          io.stdout.write(
            `${d.keep ? "keep  " : dryRun ? "would remove" : "remove"} ${plan.machineId}/${d.id}  ${d.reason}\n`,
          );
      }
    }
    if (!dryRun) {
      const removed = await applyPrune(repo, plans);
      if (!values.json)
        io.stdout.write(`Removed ${removed.length} points; run "snapvisor gc" to free their chunks\n`);
    }
    return ExitCode.ok;
  });
}
