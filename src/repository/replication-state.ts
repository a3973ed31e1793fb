import { z } from "zod";
import { repoError } from "./errors.js";
import { checkSegment } from "./ids.js";
import type { Storage } from "./storage.js";

/**
 * Small mutable JSON records of replication, kept beside the data (written with `replace`):
 * - in a source, `replication/<target-id>.json`: one outbound replication (machines, pause, schedule,
 *   seed drive, last run);
 * - in a target, `replication/incoming/<source-id>.json`: what arrives from a source and its seed;
 * - in a target, `replication/origins/<machine>.json`: the repository a replicated machine was backed
 *   up in (its home), so machines of different sources with the same id are never mixed.
 */
const uuid = z.string().regex(/^[0-9a-f-]{36}$/);
const seedState = z.enum(["pending", "consumed", "abandoned"]);
export type SeedState = z.infer<typeof seedState>;

const outboundSchema = z.object({
  format: z.literal(1),
  target: z.object({ id: uuid, location: z.string() }),
  createdAt: z.string(),
  /** null: every machine of the source, including ones protected later. */
  machines: z.array(z.string()).nullable(),
  paused: z.boolean(),
  pausedMachines: z.array(z.string()),
  /** "after-backup" (the default), "manual", or a schedule such as "daily 02:00" or "every 4h". */
  schedule: z.string(),
  /** Prepended to machine ids in the target (many-to-one with clashing ids); "" for none. */
  prefix: z.string(),
  /** Set up "with seed drive": points up to `upTo` (per machine) come by seed, not over the wire. */
  seed: z
    .object({
      state: seedState,
      createdAt: z.string(),
      upTo: z.record(z.string(), z.string()),
    })
    .nullable(),
  last: z
    .object({
      at: z.string(),
      ok: z.boolean(),
      pointsCopied: z.number().int(),
      bytesSent: z.number().int(),
      error: z.string().nullable(),
    })
    .nullable(),
});
export type OutboundReplication = z.infer<typeof outboundSchema>;

const incomingSchema = z.object({
  format: z.literal(1),
  source: z.object({ id: uuid, location: z.string() }),
  lastAt: z.string(),
  seed: z.object({ state: seedState, seedId: z.string().nullable() }).nullable(),
  machines: z.array(z.string()),
  /**
   * Points that arrived orphaned, as "machine/point": each run completes those whose chunks the
   * source can send (not held back for a seed), and drops them from the list once complete.
   */
  orphans: z.array(z.string()).default([]),
});
export type IncomingReplication = z.infer<typeof incomingSchema>;

const originSchema = z.object({
  format: z.literal(1),
  machine: z.string(),
  /** The repository where the machine's points were written by backups. */
  home: uuid,
  /** The machine's id there (differs when replicated under a prefix). */
  homeMachine: z.string(),
  /** The repository it arrived from (differs from home after several hops). */
  via: uuid,
  since: z.string(),
});
export type OriginRecord = z.infer<typeof originSchema>;

export const stateKeys = {
  outbound: (targetId: string) => `replication/${uuid.parse(targetId)}.json`,
  incoming: (sourceId: string) => `replication/incoming/${uuid.parse(sourceId)}.json`,
  origin: (machine: string) => `replication/origins/${checkSegment("machine id", machine)}.json`,
} as const;

const OUTBOUND_KEY = /^replication\/([0-9a-f-]{36})\.json$/;

async function load<T>(storage: Storage, key: string, schema: z.ZodType<T>): Promise<T | undefined> {
  const bytes = await storage.get(key);
  if (!bytes) return undefined;
  try {
    return schema.parse(JSON.parse(bytes.toString("utf8")));
  } catch (err) {
    throw repoError(
      "REPLICATION_STATE_CORRUPT",
      `Replication record ${key} is damaged: ${(err as Error).message}`,
      {
        cause: err,
        details: { key },
      },
    );
  }
}

async function save(storage: Storage, key: string, value: unknown): Promise<void> {
  await storage.replace(key, Buffer.from(JSON.stringify(value, null, 2) + "\n", "utf8"));
}

export const loadOutbound = (s: Storage, targetId: string) =>
  load(s, stateKeys.outbound(targetId), outboundSchema);
export const saveOutbound = (s: Storage, r: OutboundReplication) =>
  save(s, stateKeys.outbound(r.target.id), r);
export const loadIncoming = (s: Storage, sourceId: string) =>
  load(s, stateKeys.incoming(sourceId), incomingSchema);
export const saveIncoming = (s: Storage, r: IncomingReplication) =>
  save(s, stateKeys.incoming(r.source.id), r);
export const loadOrigin = (s: Storage, machine: string) => load(s, stateKeys.origin(machine), originSchema);
export const saveOrigin = (s: Storage, r: OriginRecord) => save(s, stateKeys.origin(r.machine), r);

export async function listOutbound(storage: Storage): Promise<OutboundReplication[]> {
  const out: OutboundReplication[] = [];
  for await (const o of storage.list("replication/")) {
    const id = OUTBOUND_KEY.exec(o.key)?.[1];
    const record = id ? await loadOutbound(storage, id) : undefined;
    if (record) out.push(record);
  }
  return out.sort((a, b) => a.target.id.localeCompare(b.target.id));
}

export async function listIncoming(storage: Storage): Promise<IncomingReplication[]> {
  const out: IncomingReplication[] = [];
  for await (const o of storage.list("replication/incoming/")) {
    const id = /([0-9a-f-]{36})\.json$/.exec(o.key)?.[1];
    const record = id ? await loadIncoming(storage, id) : undefined;
    if (record) out.push(record);
  }
  return out;
}

/** Finds the outbound replication to `target` (id, or unique id prefix). */
export async function findOutbound(storage: Storage, target: string): Promise<OutboundReplication> {
  const all = await listOutbound(storage);
  const hits = all.filter(
    (r) => r.target.id === target || r.target.id.startsWith(target) || r.target.location === target,
  );
  if (hits.length === 1) return hits[0]!;
  const known = all.map((r) => `${r.target.id} (${r.target.location})`).join(", ") || "none";
  throw repoError(
    "REPLICATION_NOT_FOUND",
    hits.length === 0
      ? `No replication to "${target}" is set up in this repository (set up: ${known})`
      : `"${target}" matches several replications: ${known}`,
    { details: { target } },
  );
}

/** True when the replication includes `machine` and neither it nor the replication is paused. */
export function replicatesMachine(r: OutboundReplication, machine: string): boolean {
  return (
    !r.paused && !r.pausedMachines.includes(machine) && (r.machines === null || r.machines.includes(machine))
  );
}
