import type { Extent } from "../domain/ports.js";
import { repoError } from "./errors.js";
import { lazySchema } from "./lazy-zod.js";
import { hasFields, isInt } from "./record-checks.js";

export const extentsFileSchema = lazySchema((z) =>
  z.array(
    z.object({
      start: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
      length: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    }),
  ),
);

/** The plain check of the fast path (lazy-zod.ts): the extents as zod would return them, or undefined. */
export function checkExtentsFile(json: unknown): Extent[] | undefined {
  if (!Array.isArray(json)) return undefined;
  const ok = json.every(
    (e) => hasFields(e, ["start", "length"]) && isInt(e["start"], 0) && isInt(e["length"], 1),
  );
  return ok ? (json as Extent[]) : undefined;
}

/** Parses an extents file (`[{"start":N,"length":N}]`, bytes) and checks it against the disk. */
export function parseExtentsFile(text: string, capacity: number, where: string): Extent[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw repoError("EXTENTS_INVALID", `Extents file ${where} is not valid JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const checked = checkExtentsFile(json);
  if (checked) return checkExtents(checked, capacity);
  const parsed = extentsFileSchema().safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw repoError(
      "EXTENTS_INVALID",
      `Extents file ${where} at [${issue?.path.join("].") ?? ""}]: ${issue?.message ?? "invalid"}; expected [{"start":N,"length":N}, ...] in bytes`,
    );
  }
  return checkExtents(parsed.data, capacity);
}

/**
 * Sorts extents and refuses overlaps and anything past the disk's end. Change tracking never reports
 * overlapping extents, so an overlap means the list was built wrongly and is not to be trusted.
 */
export function checkExtents(extents: readonly Extent[], capacity: number): Extent[] {
  const sorted = [...extents].sort((a, b) => a.start - b.start);
  let prev: Extent | undefined;
  for (const e of sorted) {
    if (!Number.isSafeInteger(e.start) || !Number.isSafeInteger(e.length) || e.start < 0 || e.length <= 0) {
      throw repoError("EXTENTS_INVALID", `Extent ${JSON.stringify(e)} is not a positive byte range`);
    }
    if (e.start + e.length > capacity) {
      throw repoError(
        "EXTENTS_INVALID",
        `Extent {start: ${e.start}, length: ${e.length}} ends at ${e.start + e.length}, past the disk's end (${capacity} bytes)`,
      );
    }
    if (prev && e.start < prev.start + prev.length) {
      throw repoError(
        "EXTENTS_INVALID",
        `Extents {start: ${prev.start}, length: ${prev.length}} and {start: ${e.start}, length: ${e.length}} overlap`,
      );
    }
    prev = e;
  }
  return sorted;
}

/** Chunk slots touched by sorted extents, ascending and distinct. */
export function slotsTouched(extents: readonly Extent[], chunkSize: number): number[] {
  const out: number[] = [];
  for (const e of extents) {
    const first = Math.floor(e.start / chunkSize);
    const last = Math.floor((e.start + e.length - 1) / chunkSize);
    for (let s = Math.max(first, (out.at(-1) ?? -1) + 1); s <= last; s++) out.push(s);
  }
  return out;
}
