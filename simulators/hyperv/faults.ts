/** Fault rules of the simulator: matched by kind and selector, consumed `times` times (default: always). */
import type { FaultRule } from "./scenario.js";

export class FaultBook {
  readonly #rules: Array<{ rule: FaultRule; left: number }> = [];

  constructor(rules: readonly FaultRule[] = []) {
    for (const r of rules) this.add(r);
  }

  add(rule: FaultRule): void {
    const times = "times" in rule && rule.times !== undefined ? rule.times : Number.POSITIVE_INFINITY;
    this.#rules.push({ rule, left: times });
  }

  clear(): void {
    this.#rules.length = 0;
  }

  list(): FaultRule[] {
    return this.#rules.filter((r) => r.left > 0).map((r) => r.rule);
  }

  /** The first live rule of `kind` accepted by `match`; consumes one use when found. */
  take<K extends FaultRule["kind"]>(
    kind: K,
    match: (rule: Extract<FaultRule, { kind: K }>) => boolean = () => true,
  ): Extract<FaultRule, { kind: K }> | undefined {
    for (const entry of this.#rules) {
      if (entry.left <= 0 || entry.rule.kind !== kind) continue;
      const rule = entry.rule as Extract<FaultRule, { kind: K }>;
      if (!match(rule)) continue;
      entry.left--;
      return rule;
    }
    return undefined;
  }

  /** Like take() but does not consume (for standing conditions such as stderr noise). */
  peek<K extends FaultRule["kind"]>(kind: K): Extract<FaultRule, { kind: K }> | undefined {
    const entry = this.#rules.find((e) => e.left > 0 && e.rule.kind === kind);
    return entry?.rule as Extract<FaultRule, { kind: K }> | undefined;
  }
}

export function vmMatches(rule: { vm?: string | undefined }, vmName: string): boolean {
  return rule.vm === undefined || rule.vm.toLowerCase() === vmName.toLowerCase();
}
