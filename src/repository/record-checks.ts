/**
 * The plain checks under the fast path of the repository's record parsers (see lazy-zod.ts). Each
 * accepts only what its zod schema accepts, and a record only as zod would return it: an object
 * with a key the schema does not name is left to zod (which would drop the key).
 */
export type Fields = Record<string, unknown>;

/** A plain object with every key of `required`, and no key outside `required` and `optional`. */
export function hasFields(
  value: unknown,
  required: readonly string[],
  optional: readonly string[] = [],
): value is Fields {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  if (keys.length < required.length || keys.length > required.length + optional.length) return false;
  let found = 0;
  for (const k of keys) {
    if (required.includes(k)) found++;
    else if (!optional.includes(k)) return false;
  }
  return found === required.length;
}

export function isString(value: unknown): value is string {
  return typeof value === "string";
}

/** A safe integer within [min, max] (zod's `.int()` with bounds). */
export function isInt(
  value: unknown,
  min = Number.MIN_SAFE_INTEGER,
  max = Number.MAX_SAFE_INTEGER,
): value is number {
  return Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max;
}

/** A finite number of at least zero (zod's `.nonnegative()`). */
export function isNonNegative(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0;
}

export function isOneOf<T extends string>(value: unknown, values: readonly T[]): value is T {
  return typeof value === "string" && (values as readonly string[]).includes(value);
}

/** A record of strings (zod's `z.record(z.string(), z.string())`) with no inherited oddities. */
export function isStringRecord(value: unknown): value is Record<string, string> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  if (Object.getPrototypeOf(value) !== Object.prototype || Object.hasOwn(value, "__proto__")) return false;
  return Object.values(value).every(isString);
}
