import { z } from "zod";

/**
 * A recovery point's manifest: the commit point of a backup. It names its parent (chains stay
 * visible) and holds, per disk, the digest of that disk's complete index.
 */
const level = z.enum(["application", "filesystem", "crash"]);
const hex64 = z.string().regex(/^[0-9a-f]{64}$/);

const diskSchema = z.object({
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

export const manifestSchema = z.object({
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
  disks: z.array(diskSchema).min(1),
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
  references: z.array(z.object({ key: z.string(), machineId: z.string(), pointId: z.string() })).default([]),
});

export type Manifest = z.infer<typeof manifestSchema>;
export type ManifestDisk = z.infer<typeof diskSchema>;
