/**
 * Fault injection by rule (as vcsim does): rules come from the scenario or the control API and are
 * consumed as matching operations happen. `times` omitted means always.
 */
import { z } from "zod";

const times = z.number().int().positive().optional();

export const faultRuleSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("quiesce-failure"),
    vm: z.string(),
    times,
    /** Default by guest: ApplicationQuiesceFault on Windows, FilesystemQuiesceFault elsewhere. */
    fault: z.enum(["ApplicationQuiesceFault", "FilesystemQuiesceFault"]).optional(),
  }),
  z.object({ kind: z.literal("snapshot-removal-failure"), vm: z.string(), times }),
  /** The snapshot goes from the tree but its delta stays: runtime.consolidationNeeded = true. */
  z.object({ kind: z.literal("consolidation-needed"), vm: z.string(), times }),
  z.object({ kind: z.literal("consolidation-failure"), vm: z.string(), times }),
  /** Tasks of `method` stay running for `delayMs`, or until released through the control API. */
  z.object({
    kind: z.literal("slow-task"),
    method: z.string(),
    vm: z.string().optional(),
    delayMs: z.number().int().nonnegative().optional(),
    hold: z.boolean().optional(),
    times,
  }),
  /** The server forgets sessions after `afterCalls` more authenticated calls (0: now). */
  z.object({ kind: z.literal("session-expiry"), afterCalls: z.number().int().nonnegative().default(0) }),
  /** Data reads (/folder, SSH) of files of `vm` (any VM if omitted) break after `afterBytes`. */
  z.object({
    kind: z.literal("host-unreachable"),
    vm: z.string().optional(),
    afterBytes: z.number().int().nonnegative().default(0),
    transport: z.enum(["http", "ssh", "any"]).default("any"),
    times,
  }),
]);

export type FaultRule = z.output<typeof faultRuleSchema>;
export type FaultRuleInput = z.input<typeof faultRuleSchema>;

/** Active rules; `take` consumes one use of the first rule that matches. */
export class FaultRules {
  #rules: { rule: FaultRule; left: number }[] = [];

  add(rule: FaultRule): void {
    this.#rules.push({
      rule,
      left: rule.kind !== "session-expiry" && rule.times !== undefined ? rule.times : Infinity,
    });
  }

  clear(): void {
    this.#rules = [];
  }

  list(): readonly FaultRule[] {
    return this.#rules.map((r) => r.rule);
  }

  take<K extends FaultRule["kind"]>(
    kind: K,
    match: (rule: Extract<FaultRule, { kind: K }>) => boolean,
  ): Extract<FaultRule, { kind: K }> | undefined {
    const i = this.#rules.findIndex(
      (r) => r.rule.kind === kind && match(r.rule as Extract<FaultRule, { kind: K }>),
    );
    const entry = this.#rules[i];
    if (!entry) return undefined;
    entry.left -= 1;
    if (entry.left <= 0) this.#rules.splice(i, 1);
    return entry.rule as Extract<FaultRule, { kind: K }>;
  }
}
