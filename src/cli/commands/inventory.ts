import { planBackup } from "../../controller/plan.js";
import { SnapvisorError, messageOf } from "../../domain/errors.js";
import { ExitCode, type CliIo } from "../command.js";
import { jsonLine } from "../format.js";
import { formatInventory, inventoryRows } from "../inventory-format.js";
import { parseCommandArgs } from "../args.js";
import { withControllerContext } from "../app/context.js";
import { closeSessions, openConfigSessions } from "../app/sessions.js";

export async function inventory(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values } = parseCommandArgs("inventory", args, {
    config: { type: "string" },
    json: { type: "boolean" },
  });
  if (!values.config) throw new SnapvisorError("USAGE", "inventory: --config FILE is required");
  return withControllerContext(io, values.config, async ({ config, logger, signal }) => {
    const sessions = await openConfigSessions(io.env, config, { logger, signal });
    let failed = false;
    try {
      const inventories = [];
      for (const [source, session] of sessions) {
        try {
          inventories.push({ source, vms: await session.inventory(signal) });
        } catch (err) {
          failed = true;
          io.stderr.write(`snapvisor: cannot list the VMs of "${source}": ${messageOf(err)}\n`);
        }
      }
      const plan = planBackup({
        inventory: inventories,
        groups: config.protectionGroups,
        latest: new Map(),
        now: new Date(),
      });
      if (values.json) {
        for (const row of inventoryRows(plan)) io.stdout.write(jsonLine({ type: "vm", ...row }));
        for (const s of plan.sharedDisks) io.stdout.write(jsonLine({ type: "shared-disk", ...s }));
      } else io.stdout.write(formatInventory(plan));
      return failed ? ExitCode.failed : ExitCode.ok;
    } finally {
      await closeSessions(sessions);
    }
  });
}
