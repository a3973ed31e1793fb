import type { z, ZodSafeParseResult } from "zod";
import { lazySchema, type Z } from "./lazy-zod.js";
import { hasFields, isInt, isNonNegative, isOneOf, isString, isStringRecord } from "./record-checks.js";

/**
 * A recovery point's manifest: the commit point of a backup. It names its parent (chains stay
 * visible) and holds, per disk, the digest of that disk's complete index.
 */
function schemas(z: Z) {
  const level = z.enum(["application", "filesystem", "crash"]);
  const hex64 = z.string().regex(/^[0-9a-f]{64}$/);

  const disk = z.object({
    key: z.string().min(1),
    capacity: z.number().int().nonnegative(),
    /** CBT changeId or RCT id of the disk at the snapshot; null for image files. */
    changeId: z.string().nullable(),
    /** full: every slot was read (first backup, reset tracking, resize); incremental: changed slots only. */
    read: z.enum(["full", "incremental"]),
    fullReason: z.string().nullable(),
    index: z.object({
      sha256: hex64,
      chunks: z.number().int().nonnegative(),
      zeroChunks: z.number().int().nonnegative(),
    }),
    stats: z.object({
      bytesRead: z.number().int().nonnegative(),
      bytesNew: z.number().int().nonnegative(),
      bytesStored: z.number().int().nonnegative(),
      chunksRead: z.number().int().nonnegative(),
      chunksNew: z.number().int().nonnegative(),
    }),
  });

  const manifest = z.object({
    format: z.literal(1),
    id: z.string(),
    machine: z.object({
      id: z.string(),
      name: z.string(),
      hypervisor: z.enum(["vsphere", "hyperv", "image"]),
    }),
    parent: z.string().nullable(),
    kind: z.enum(["base", "incremental"]),
    chunkSize: z.number().int().positive(),
    /** When the snapshot was taken (the point's time for retention), and when the write began/ended. */
    snapshotAt: z.string(),
    startedAt: z.string(),
    completedAt: z.string(),
    consistency: z.object({ expected: level, achieved: level, reason: z.string() }),
    disks: z.array(disk).min(1),
    stats: z.object({
      bytesRead: z.number().int().nonnegative(),
      bytesNew: z.number().int().nonnegative(),
      bytesStored: z.number().int().nonnegative(),
      /** bytes read / bytes new to the repository; null when nothing new was stored. */
      dedupRatio: z.number().nonnegative().nullable(),
      durationMs: z.number().nonnegative(),
    }),
    tags: z.record(z.string(), z.string()),
    /**
     * Disks of this machine stored as another machine's point: a shared VHDX is protected once, as a
     * point of its host/cluster, and each VM attaching it references that point.
     */
    references: z
      .array(z.object({ key: z.string(), machineId: z.string(), pointId: z.string() }))
      .default([]),
  });
  return { disk, manifest };
}

type Schemas = ReturnType<typeof schemas>;
export type Manifest = z.infer<Schemas["manifest"]>;
export type ManifestDisk = z.infer<Schemas["disk"]>;

const zodSchemas = lazySchema(schemas);

/** The manifest's zod schema itself (built, and zod loaded, on the call). */
export const manifestZodSchema = () => zodSchemas().manifest;

const LEVELS = ["application", "filesystem", "crash"] as const;
const HEX64 = /^[0-9a-f]{64}$/;
const isNatural = (v: unknown) => isInt(v, 0);
const isStringOrNull = (v: unknown) => v === null || isString(v);

function isDisk(d: unknown): boolean {
  if (!hasFields(d, ["key", "capacity", "changeId", "read", "fullReason", "index", "stats"])) return false;
  const { index, stats } = d;
  return (
    isString(d["key"]) &&
    d["key"].length > 0 &&
    isNatural(d["capacity"]) &&
    isStringOrNull(d["changeId"]) &&
    isOneOf(d["read"], ["full", "incremental"]) &&
    isStringOrNull(d["fullReason"]) &&
    hasFields(index, ["sha256", "chunks", "zeroChunks"]) &&
    isString(index["sha256"]) &&
    HEX64.test(index["sha256"]) &&
    isNatural(index["chunks"]) &&
    isNatural(index["zeroChunks"]) &&
    hasFields(stats, ["bytesRead", "bytesNew", "bytesStored", "chunksRead", "chunksNew"]) &&
    Object.values(stats).every(isNatural)
  );
}

const isReference = (r: unknown) =>
  hasFields(r, ["key", "machineId", "pointId"]) && Object.values(r).every(isString);

/** The plain check of the fast path (lazy-zod.ts): the manifest as zod would return it, or undefined. */
export function checkManifest(m: unknown): Manifest | undefined {
  const keys = ["format", "id", "machine", "parent", "kind", "chunkSize", "snapshotAt", "startedAt"];
  const more = ["completedAt", "consistency", "disks", "stats", "tags"];
  if (!hasFields(m, [...keys, ...more], ["references"])) return undefined;
  const { machine, consistency, disks, stats, references = [] } = m;
  const ok =
    m["format"] === 1 &&
    isString(m["id"]) &&
    hasFields(machine, ["id", "name", "hypervisor"]) &&
    isString(machine["id"]) &&
    isString(machine["name"]) &&
    isOneOf(machine["hypervisor"], ["vsphere", "hyperv", "image"]) &&
    isStringOrNull(m["parent"]) &&
    isOneOf(m["kind"], ["base", "incremental"]) &&
    isInt(m["chunkSize"], 1) &&
    isString(m["snapshotAt"]) &&
    isString(m["startedAt"]) &&
    isString(m["completedAt"]) &&
    hasFields(consistency, ["expected", "achieved", "reason"]) &&
    isOneOf(consistency["expected"], LEVELS) &&
    isOneOf(consistency["achieved"], LEVELS) &&
    isString(consistency["reason"]) &&
    Array.isArray(disks) &&
    disks.length > 0 &&
    disks.every(isDisk) &&
    hasFields(stats, ["bytesRead", "bytesNew", "bytesStored", "dedupRatio", "durationMs"]) &&
    isNatural(stats["bytesRead"]) &&
    isNatural(stats["bytesNew"]) &&
    isNatural(stats["bytesStored"]) &&
    (stats["dedupRatio"] === null || isNonNegative(stats["dedupRatio"])) &&
    isNonNegative(stats["durationMs"]) &&
    isStringRecord(m["tags"]) &&
    Array.isArray(references) &&
    references.every(isReference);
  // A manifest written before shared disks has no references: zod's default fills them in.
  return ok ? ({ ...m, references: references as unknown[] } as unknown as Manifest) : undefined;
}

/**
 * The manifest's schema: `safeParse` answers as zod's does, through the plain check when it passes
 * and through zod (loaded then) otherwise, so a refusal always carries zod's issues.
 */
export const manifestSchema = {
  safeParse(value: unknown): ZodSafeParseResult<Manifest> {
    const data = checkManifest(value);
    return data ? { success: true, data } : zodSchemas().manifest.safeParse(value);
  },
};
