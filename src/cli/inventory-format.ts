/**
 * What `snapvisor inventory` shows, from a plan: every VM with its power, tools and last shutdown,
 * the consistency decided and why (or why it is not backed up), then the shared disks with the VMs
 * attached to them. Pure; `--json` prints `inventoryRows()` as JSON lines.
 */
import type { BackupPlan, PlannedVm } from "../controller/plan.js";
import { table } from "./summary.js";

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

export function inventoryRows(plan: BackupPlan): InventoryRow[] {
  return plan.vms.map((p) => ({
    vm: p.vm.name,
    id: p.vm.id,
    host: p.vm.cluster ? `${p.vm.cluster}/${p.vm.host}` : p.vm.host,
    group: p.group?.name,
    power: p.vm.power,
    tools: p.vm.tools,
    lastShutdown: p.vm.power === "off" ? p.vm.lastShutdown : "-",
    status: p.status,
    expected: p.status === "include" ? p.decision.expected : undefined,
    method: p.status === "include" ? p.decision.method : undefined,
    why: p.status === "include" ? p.decision.reason : p.reason,
  }));
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
  const lines = table(["vm", "host", "group", "power", "tools", "last shutdown", "consistency", "why"], rows);
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
      ),
    );
  }
  return lines.join("\n") + "\n";
}
