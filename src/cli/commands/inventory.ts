import { planBackup, type BackupPlan } from "../../controller/plan.js";
import { decideConsistency } from "../../domain/consistency.js";
import { SnapvisorError, messageOf } from "../../domain/errors.js";
import type { VmInfo } from "../../domain/hypervisor.js";
import { ExitCode, type Command } from "../command.js";
import { formatBytes, jsonLine, table } from "../format.js";
import { parseCommandArgs } from "../run.js";
import { withControllerContext } from "../app/context.js";
import { closeSessions, openSessions } from "../app/sessions.js";

interface Row {
  source: string;
  vm: VmInfo;
  group: string | undefined;
  plan: string;
  expected: string;
  why: string;
}

function rowsOf(plan: BackupPlan, sourceOf: Map<string, string>): Row[] {
  return plan.vms.map((p) => {
    // VMs outside every group are shown with what the default policy would decide.
    const decision =
      p.status === "include"
        ? p.decision
        : decideConsistency(p.vm, p.group?.policy.consistency ?? "prefer-application");
    return {
      source: sourceOf.get(p.vm.id) ?? "?",
      vm: p.vm,
      group: p.group?.name,
      plan:
        p.status === "include"
          ? "protect"
          : p.status === "skip"
            ? `skip: ${p.reason}`
            : `refuse: ${p.reason}`,
      expected: decision.expected,
      why: decision.reason,
    };
  });
}

export const inventory: Command = {
  path: ["inventory"],
  usage: "inventory --config FILE [--json]",
  summary:
    "List the VMs of every source: tools, power, last shutdown, the consistency decided and why, groups; shared disks and their VMs.",
  async run(args, io) {
    const { values } = parseCommandArgs("inventory", args, {
      config: { type: "string" },
      json: { type: "boolean" },
    });
    if (!values.config) throw new SnapvisorError("USAGE", "inventory: --config FILE is required");
    return withControllerContext(io, values.config, async ({ config, logger, signal }) => {
      const sessions = await openSessions(config, { env: io.env, logger, signal });
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
        const sourceOf = new Map(inventories.flatMap((s) => s.vms.map((v) => [v.id, s.source] as const)));
        const plan = planBackup({
          inventory: inventories,
          groups: config.protectionGroups,
          latest: new Map(),
          now: new Date(),
        });
        const rows = rowsOf(plan, sourceOf);
        if (values.json) {
          for (const r of rows) {
            io.stdout.write(
              jsonLine({
                type: "vm",
                source: r.source,
                ...r.vm,
                group: r.group ?? null,
                plan: r.plan,
                consistency: { expected: r.expected, reason: r.why },
              }),
            );
          }
          for (const s of plan.sharedDisks) io.stdout.write(jsonLine({ type: "shared-disk", ...s }));
        } else {
          io.stdout.write(
            table(
              [
                "VM",
                "SOURCE",
                "HOST",
                "POWER",
                "TOOLS",
                "LAST SHUTDOWN",
                "DISKS",
                "GROUP",
                "CONSISTENCY",
                "WHY",
                "PLAN",
              ],
              rows.map((r) => [
                r.vm.name,
                r.source,
                r.vm.host,
                r.vm.power,
                r.vm.tools,
                r.vm.power === "off" ? r.vm.lastShutdown : "-",
                `${r.vm.disks.length} (${formatBytes(r.vm.disks.reduce((n, d) => n + d.capacity, 0))})`,
                r.group ?? "-",
                r.expected,
                r.why,
                r.plan,
              ]),
            ),
          );
          if (plan.sharedDisks.length > 0) {
            io.stdout.write("\nShared disks:\n");
            io.stdout.write(
              table(
                ["PATH", "OWNER", "SIZE", "VMS", "PROTECTED"],
                plan.sharedDisks.map((s) => [
                  s.path,
                  s.owner,
                  formatBytes(s.capacity),
                  s.vms.join(", "),
                  s.protect ? "yes" : `no: ${s.reason}`,
                ]),
              ),
            );
          }
        }
        return failed ? ExitCode.failed : ExitCode.ok;
      } finally {
        await closeSessions(sessions);
      }
    });
  },
};
