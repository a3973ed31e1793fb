import { z } from "zod";
import { repoError } from "./errors.js";

/**
 * A seed drive is a set of volumes, each a repository directory (its own `config.json`, chunks,
 * points) plus `seed.json`, the volume manifest, written last: what the volume holds, with the size
 * and SHA-256 of every file as stored, so a consumer detects a missing or truncated volume before
 * it trusts anything in it. The last volume says how many there are.
 */
export const SEED_FORMAT = "snapvisor-seed";
export const SEED_MANIFEST = "seed.json";

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
/** Only objects a repository holds; anything else in a hostile seed is refused. */
const SEED_KEY = /^(chunks\/[0-9a-f]{4}\/[0-9a-f]{64}|points\/[^/]+\/[^/]+\/(manifest|disk-[^/]+\.index))$/;

export const seedVolumeSchema = z.object({
  format: z.literal(SEED_FORMAT),
  version: z.literal(1),
  seedId: z.string().regex(/^[0-9a-f-]{36}$/),
  createdAt: z.string(),
  source: z.object({
    id: z.string().regex(/^[0-9a-f-]{36}$/),
    chunkSize: z.number().int().positive(),
    chunkId: z.enum(["sha256", "hmac-sha256"]),
    keyFingerprint: z.string(),
  }),
  volume: z.number().int().min(1),
  /** Set on the last volume only: the number of volumes. */
  volumes: z.number().int().min(1).nullable(),
  origins: z.record(
    z.string(),
    z.object({ home: z.string().regex(/^[0-9a-f-]{36}$/), homeMachine: z.string() }),
  ),
  points: z.array(z.object({ machineId: z.string(), pointId: z.string() })),
  files: z.array(
    z.object({
      key: z.string().regex(SEED_KEY, "a repository object key"),
      size: z.number().int().nonnegative(),
      sha256: hex64,
    }),
  ),
});
export type SeedVolume = z.infer<typeof seedVolumeSchema>;

export function parseSeedVolume(bytes: Uint8Array, where: string): SeedVolume {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (err) {
    throw repoError("SEED_CORRUPT", `Seed volume ${where}: ${SEED_MANIFEST} is not valid JSON (truncated?)`, {
      cause: err,
    });
  }
  const parsed = seedVolumeSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw repoError(
      "SEED_CORRUPT",
      `Seed volume ${where}: ${SEED_MANIFEST} is invalid at "${issue?.path.join(".")}": ${issue?.message}`,
    );
  }
  return parsed.data;
}

/**
 * Checks that `volumes` are one complete seed: one seed id, numbers 1..N each once, the last one
 * present. Pure. Returns them in order.
 */
export function checkVolumeSet(
  volumes: readonly { where: string; volume: SeedVolume }[],
): { where: string; volume: SeedVolume }[] {
  if (volumes.length === 0)
    throw repoError("USAGE", "seed consume: give the seed's volume directories with --from");
  const first = volumes[0]!.volume;
  for (const v of volumes) {
    if (v.volume.seedId !== first.seedId) {
      throw repoError(
        "USAGE",
        `Volumes of different seeds given: ${volumes[0]!.where} is of seed ${first.seedId}, ${v.where} of seed ${v.volume.seedId}`,
      );
    }
  }
  const byNumber = new Map<number, { where: string; volume: SeedVolume }>();
  for (const v of volumes) {
    const dup = byNumber.get(v.volume.volume);
    if (dup)
      throw repoError(
        "USAGE",
        `Volume ${v.volume.volume} of seed ${first.seedId} given twice: ${dup.where} and ${v.where}`,
      );
    byNumber.set(v.volume.volume, v);
  }
  const last = volumes.find((v) => v.volume.volumes !== null);
  const count = last?.volume.volumes ?? Math.max(...byNumber.keys()) + 1;
  const missing: number[] = [];
  for (let n = 1; n <= count; n++) if (!byNumber.has(n)) missing.push(n);
  if (!last || missing.length > 0) {
    throw repoError(
      "SEED_INCOMPLETE",
      `Seed ${first.seedId} is incomplete: volume${missing.length > 1 ? "s" : ""} ${missing.join(", ")} ${last ? `of ${count} ` : "(and the last one) "}not given`,
      { details: { seedId: first.seedId, missing, count: last ? count : null } },
    );
  }
  return [...byNumber.keys()].sort((a, b) => a - b).map((n) => byNumber.get(n)!);
}
