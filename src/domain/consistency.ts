/**
 * The consistency decision, made before the snapshot, and its reconciliation with what the
 * hypervisor achieved, made after it. Pure: no I/O, no clock. The table of cases in
 * test/domain/consistency.test.ts is the specification (seed 000 "Table 38" plus DESIGN.md §1).
 */
import type { ConsistencyPolicy, PowerState, VmInfo } from "./hypervisor.js";
import type { ConsistencyLevel, ConsistencyRecord } from "./ports.js";

/**
 * How the snapshot is taken:
 * - `quiesced-snapshot`: a running VM, tools asked to flush (VSS on Windows, freeze on Linux);
 * - `crash-snapshot`: a running/suspended VM, no quiesce asked;
 * - `offline-copy`: a powered-off VM. A snapshot without quiesce is still taken (it freezes the disk
 *   should someone power the VM on mid-read, and gives CBT/RCT a change id), but nothing runs in the
 *   guest: the disk is at rest, so after a clean shutdown it is application-consistent as it stands.
 */
export type SnapshotMethod = "quiesced-snapshot" | "crash-snapshot" | "offline-copy";

/** The facts the decision reads; a `VmInfo` has them all. */
export type ConsistencyFacts = Pick<
  VmInfo,
  | "name"
  | "hypervisor"
  | "power"
  | "tools"
  | "toolsDetail"
  | "lastShutdown"
  | "lastShutdownDetail"
  | "guestOs"
>;

export interface ConsistencyDecision {
  readonly expected: ConsistencyLevel;
  readonly method: SnapshotMethod;
  /** One sentence naming the facts behind `expected`. */
  readonly reason: string;
  /**
   * Set when the policy cannot be met before anything is tried (`require-application` on a VM that
   * cannot reach application level): the job fails this VM without taking a snapshot.
   */
  readonly refusal?: string;
}

const rank: Readonly<Record<ConsistencyLevel, number>> = { crash: 0, filesystem: 1, application: 2 };

/** True when `a` is a strictly lower level than `b`. */
export function isLowerLevel(a: ConsistencyLevel, b: ConsistencyLevel): boolean {
  return rank[a] < rank[b];
}

function toolsName(vm: ConsistencyFacts): string {
  return vm.hypervisor === "hyperv" ? "Hyper-V Integration Services (VSS)" : "VMware Tools";
}

function detail(text: string): string {
  return text === "" ? "" : ` (${text})`;
}

const pausedStates: ReadonlySet<PowerState> = new Set(["suspended", "paused", "saved"]);

function decideLevel(vm: ConsistencyFacts, policy: ConsistencyPolicy): ConsistencyDecision {
  if (vm.power === "off") {
    if (vm.lastShutdown === "clean") {
      return {
        expected: "application",
        method: "offline-copy",
        reason: `powered off after a clean shutdown${detail(vm.lastShutdownDetail)}: disks at rest, read without quiesce`,
      };
    }
    const kind = vm.lastShutdown === "dirty" ? "a dirty shutdown" : "an unknown shutdown (counted as dirty)";
    return {
      expected: "crash",
      method: "offline-copy",
      reason: `powered off after ${kind}${detail(vm.lastShutdownDetail)}`,
    };
  }
  if (pausedStates.has(vm.power)) {
    return {
      expected: "crash",
      method: "crash-snapshot",
      reason: `VM is ${vm.power}: the guest cannot quiesce and its memory holds unwritten data`,
    };
  }
  if (vm.tools !== "running") {
    const state = vm.tools === "not-installed" ? "not installed" : "not running";
    return {
      expected: "crash",
      method: "crash-snapshot",
      reason: `${toolsName(vm)} ${state}${detail(vm.toolsDetail)}`,
    };
  }
  if (policy === "crash-only") {
    return { expected: "crash", method: "crash-snapshot", reason: "policy crash-only: no quiesce asked" };
  }
  if (vm.guestOs === "windows") {
    return {
      expected: "application",
      method: "quiesced-snapshot",
      reason: `${toolsName(vm)} running on a Windows guest: VSS writers flushed`,
    };
  }
  return {
    expected: "filesystem",
    method: "quiesced-snapshot",
    reason: `${toolsName(vm)} running on a ${vm.guestOs === "linux" ? "Linux" : "non-Windows"} guest: file systems frozen, no VSS for applications`,
  };
}

/** Decides the expected level and the snapshot method from the VM's facts and the group's policy. */
export function decideConsistency(vm: ConsistencyFacts, policy: ConsistencyPolicy): ConsistencyDecision {
  const decision = decideLevel(vm, policy);
  if (policy === "require-application" && decision.expected !== "application") {
    return {
      ...decision,
      refusal: `Cannot back up VM "${vm.name}" application-consistently (policy require-application): ${decision.reason}`,
    };
  }
  return decision;
}

/** What the adapter read back after the snapshot (`BackupSnapshot` has these fields). */
export interface SnapshotOutcome {
  readonly achieved: ConsistencyLevel;
  /** The adapter's reason when achieved differs from what was asked ("" when equal). */
  readonly reason: string;
  /** Power state at snapshot time when the adapter knows it; an offline copy of a VM found running is crash. */
  readonly powerAtSnapshot?: PowerState;
}

export type ConsistencyVerdict = "ok" | "warning" | "fail";

export interface ConsistencyReconciliation {
  readonly record: ConsistencyRecord;
  readonly verdict: ConsistencyVerdict;
  /** Empty when ok; otherwise the sentence for the job summary. */
  readonly message: string;
}

/** The level the snapshot reached, taking the method into account. */
function achievedLevel(
  decision: ConsistencyDecision,
  outcome: SnapshotOutcome,
): { level: ConsistencyLevel; reason: string } {
  if (decision.method === "offline-copy") {
    // No quiesce was asked, so the adapter reports crash; the level comes from the disk being at rest.
    if (outcome.powerAtSnapshot !== undefined && outcome.powerAtSnapshot !== "off") {
      return {
        level: "crash",
        reason: `VM was ${outcome.powerAtSnapshot} at snapshot time, not powered off as planned`,
      };
    }
    return { level: decision.expected, reason: "" };
  }
  return { level: outcome.achieved, reason: outcome.reason };
}

/**
 * Compares what was expected with what was achieved and applies the policy: a lower level is a
 * warning under `prefer-application` and a failure under `require-application`.
 */
export function reconcileConsistency(
  decision: ConsistencyDecision,
  outcome: SnapshotOutcome,
  policy: ConsistencyPolicy,
): ConsistencyReconciliation {
  const { level, reason } = achievedLevel(decision, outcome);
  const expected = decision.expected;
  if (!isLowerLevel(level, expected)) {
    const record = { expected, achieved: level, reason: decision.reason };
    if (policy === "require-application" && level !== "application") {
      return { record, verdict: "fail", message: `policy require-application not met: achieved ${level}` };
    }
    return { record, verdict: "ok", message: "" };
  }
  const why = reason === "" ? `the hypervisor reported ${level}` : reason;
  const record = { expected, achieved: level, reason: why };
  const message = `expected ${expected}, achieved ${level}: ${why}`;
  if (policy === "require-application") {
    return { record, verdict: "fail", message: `policy require-application not met: ${message}` };
  }
  return { record, verdict: "warning", message };
}
