/**
 * What `snapvisor inventory` shows, from a plan: every VM with its power, tools and last shutdown,
 * the consistency decided and why (or why it is not backed up), then the shared disks with the VMs
 * attached to them. Pure; `--json` prints `inventoryRows()` as JSON lines.
 */
import type { BackupPlan, PlannedVm } from "../controller/plan.js";
import { decideConsistency } from "../domain/consistency.js";
import { table } from "./format.js";

export interface InventoryRow {
  readonly vm: string;
  readonly id: string;
  readonly host: string;
  readonly group: string | undefined;
  readonly power: string;
  readonly tools: string;
  readonly lastShutdown: string;
  /** include / skip / refuse */
  readonly status: PlannedVm["status"];
  readonly expected: string | undefined;
  readonly method: string | undefined;
  readonly why: string;
}

/**
 * A VM the plan does not back up still shows the consistency it would get: under its group's policy,
 * or the default prefer-application when it is in no group.
 */
export function inventoryRows(plan: BackupPlan): InventoryRow[] {
  return plan.vms.map((p) => {
    const decision =
      p.status === "include"
        ? p.decision
        : decideConsistency(p.vm, p.group?.policy.consistency ?? "prefer-application");
    return {
      vm: p.vm.name,
      id: p.vm.id,
      host: p.vm.cluster ? `${p.vm.cluster}/${p.vm.host}` : p.vm.host,
      group: p.group?.name,
      power: p.vm.power,
      tools: p.vm.tools,
      lastShutdown: p.vm.power === "off" ? p.vm.lastShutdown : "-",
      status: p.status,
      expected: decision.expected,
      method: decision.method,
      why:
        p.status === "include"
          ? decision.reason
          : `${p.reason}; would be ${decision.expected}: ${decision.reason}`,
    };
  });
}

export function formatInventory(plan: BackupPlan): string {
  const rows = inventoryRows(plan).map((r) => [
    r.vm,
    r.host,
    r.group ?? "-",
    r.power,
    r.tools,
    r.lastShutdown,
    r.status === "include"
      ? `${r.expected ?? ""} (${r.method ?? ""})`
      : r.status === "refuse"
        ? "refused"
        : "not protected",
    r.why,
  ]);
  const lines = table(["vm", "host", "group", "power", "tools", "last shutdown", "consistency", "why"], rows)
    .trimEnd()
    .split("\n");
  if (plan.sharedDisks.length > 0) {
    lines.push("", "shared disks:");
    lines.push(
      ...table(
        ["path", "owner", "vms", "protected"],
        plan.sharedDisks.map((s) => [
          s.path,
          s.owner,
          s.vms.join(", "),
          s.protect ? "yes" : `no: ${s.reason}`,
        ]),
      )
        .trimEnd()
        .split("\n"),
    );
  }
  return lines.join("\n") + "\n";
}
