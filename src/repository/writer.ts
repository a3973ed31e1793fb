import { randomBytes } from "node:crypto";
import type { ConsistencyRecord, DiskSource, Extent, Hypervisor } from "../domain/ports.js";
import { CHUNK_BLOB_OVERHEAD } from "./blob.js";
import { repoError } from "./errors.js";
import { checkExtents, slotsTouched } from "./extents.js";
import { checkSegment, newPointId } from "./ids.js";
import { DigestSet } from "./digest-set.js";
import { isAllZero } from "./chunk-id.js";
import { storeAsDelta, subBlocksTouched, SUB_BLOCK, unionSorted, writeDeltaHeader } from "./delta.js";
import type { ParsedDelta } from "./delta.js";
import { DeltaPacker } from "./delta-packer.js";
import { parseChecked } from "./slot-read.js";
import { DiskIndex, ZERO_ID } from "./index-format.js";
import { WriteBehind } from "./write-behind.js";
import type { Manifest, ManifestDisk } from "./manifest.js";
import { runLanes } from "./pool.js";
import { laneBuffers } from "./slab.js";
import { keys, type PointRef, type Repository } from "./repository.js";

export interface DiskInput {
  readonly key: string;
  readonly capacity: number;
  readonly source: DiskSource;
  /** Changed byte ranges since the parent point, or "all" for a full read. */
  readonly changed: readonly Extent[] | "all";
  /**
   * What the areas outside `changed` hold: the parent point's same disk (an incremental; default),
   * or zeros (a full read of the allocated areas only, as CBT's changeId "*" reports them).
   */
  readonly unchangedFrom?: "parent" | "zero";
  /** CBT changeId / RCT id at the snapshot. */
  readonly changeId?: string | null;
  /** Why a full read was chosen by the caller (tracking reset, new disk, ...). */
  readonly fullReason?: string;
}

export interface WritePointOptions {
  readonly machine: { readonly id: string; readonly name: string; readonly hypervisor: Hypervisor };
  readonly disks: readonly DiskInput[];
  /** The parent point: "latest" (default) is the machine's newest point, null forces a base. */
  readonly parent?: string | null;
  readonly consistency: ConsistencyRecord;
  readonly snapshotAt?: Date;
  readonly tags?: Readonly<Record<string, string>>;
  /** Disks stored as other machines' points (shared disks), listed on the manifest. */
  readonly references?: readonly { key: string; machineId: string; pointId: string }[];
  readonly signal?: AbortSignal;
  /** Chunks in flight at once (read + hash + compress + write). */
  readonly concurrency?: number;
  readonly onProgress?: (progress: { disk: string; bytesDone: number; bytesTotal: number }) => void;
  readonly now?: () => Date;
}

export interface WrittenPoint {
  readonly ref: PointRef;
  readonly manifest: Manifest;
}

interface SlotStats {
  bytesRead: number;
  bytesNew: number;
  bytesStored: number;
  chunksRead: number;
  chunksNew: number;
}

/**
 * Writes one recovery point: the changed slots of each disk are read, hashed, deduplicated against
 * the parent's index and the store, compressed, sealed and stored; then each disk's complete index,
 * then the manifest, which commits the point. A failure at any moment leaves no visible point, only
 * chunks for garbage collection.
 */
export async function writePoint(repo: Repository, options: WritePointOptions): Promise<WrittenPoint> {
  const now = options.now ?? (() => new Date());
  const started = now();
  const machineId = checkSegment("machine id", options.machine.id);
  const keysSeen = new Set<string>();
  for (const d of options.disks) {
    checkSegment("disk key", d.key);
    if (keysSeen.has(d.key)) throw repoError("USAGE", `Disk key "${d.key}" is given twice`);
    keysSeen.add(d.key);
  }
  if (options.disks.length === 0) throw repoError("USAGE", "A recovery point needs at least one disk");

  // Workers start now for a large job (their start overlaps reading the parent), never for a small one.
  repo.warmChunkWorkers(
    options.disks.reduce(
      (n, d) => n + (d.changed === "all" ? d.capacity : d.changed.reduce((m, e) => m + e.length, 0)),
      0,
    ),
  );
  const parentRef = await resolveParent(repo, machineId, options.parent ?? "latest");
  const parent = parentRef ? await repo.readManifest(parentRef) : undefined;
  const ref: PointRef = { machineId, pointId: newPointId(started, randomBytes(4).toString("hex")) };

  const disks: ManifestDisk[] = [];
  const indexes: { key: string; blob: Buffer[] }[] = [];
  for (const input of options.disks) {
    const { disk, index } = await writeDisk(repo, input, parent, options);
    const sealed = await repo.sealIndex(ref, input.key, index);
    disks.push({ ...disk, index: { ...disk.index, sha256: sealed.sha256 } });
    indexes.push(sealed);
  }

  // Chunks and indexes (each fsynced as written) are named durably by one flush, then the manifest
  // commits the point. An index whose manifest never lands is gc's to remove.
  for (const { key, blob } of indexes) await repo.storage.putIfAbsent(key, blob, options.signal);
  await repo.storage.flush();

  const total = disks.reduce(
    (a, d) => ({
      bytesRead: a.bytesRead + d.stats.bytesRead,
      bytesNew: a.bytesNew + d.stats.bytesNew,
      bytesStored: a.bytesStored + d.stats.bytesStored,
    }),
    { bytesRead: 0, bytesNew: 0, bytesStored: 0 },
  );
  const completed = now();
  const manifest: Manifest = {
    format: 1,
    id: ref.pointId,
    machine: { id: machineId, name: options.machine.name, hypervisor: options.machine.hypervisor },
    parent: parent?.id ?? null,
    kind: parent ? "incremental" : "base",
    chunkSize: repo.chunkSize,
    snapshotAt: (options.snapshotAt ?? started).toISOString(),
    startedAt: started.toISOString(),
    completedAt: completed.toISOString(),
    consistency: { ...options.consistency },
    disks,
    stats: {
      ...total,
      dedupRatio: total.bytesNew > 0 ? round(total.bytesRead / total.bytesNew) : null,
      durationMs: completed.getTime() - started.getTime(),
    },
    tags: { ...options.tags },
    references: (options.references ?? []).map((r) => ({ ...r })),
  };
  const { key, blob } = await repo.sealManifest(manifest);
  if (!(await repo.storage.putIfAbsent(key, blob, options.signal))) {
    throw repoError("STORAGE_IO", `Point ${ref.pointId} already exists (id collision)`);
  }
  await repo.storage.flush();
  return { ref, manifest };
}

async function resolveParent(
  repo: Repository,
  machineId: string,
  parent: string | null,
): Promise<PointRef | undefined> {
  if (parent === null) return undefined;
  if (parent === "latest") return repo.latestPoint(machineId);
  const ref = await repo.findPoint(parent);
  if (ref.machineId !== machineId) {
    throw repoError("USAGE", `Parent point ${parent} belongs to machine ${ref.machineId}, not ${machineId}`);
  }
  return ref;
}

async function writeDisk(
  repo: Repository,
  input: DiskInput,
  parent: Manifest | undefined,
  options: WritePointOptions,
): Promise<{ disk: ManifestDisk; index: DiskIndex }> {
  const cs = repo.chunkSize;
  if (!Number.isSafeInteger(input.capacity) || input.capacity <= 0) {
    throw repoError("USAGE", `Disk "${input.key}" has an invalid capacity ${input.capacity}`);
  }
  const parentDisk = parent?.disks.find((d) => d.key === input.key);
  const parentIndex = parentDisk && parent ? await repo.readIndex(parent, input.key) : undefined;

  let fullReason: string | null = null;
  const zeroElsewhere = input.unchangedFrom === "zero" && input.changed !== "all";
  if (zeroElsewhere) fullReason = input.fullReason ?? "full read of the allocated areas";
  else if (input.changed === "all")
    fullReason = input.fullReason ?? (parentIndex ? "full read requested" : "first backup of this disk");
  else if (!parentIndex)
    fullReason = parent
      ? `disk "${input.key}" is new since point ${parent.id}`
      : "no previous point of this machine";
  else if (parentIndex.capacity !== input.capacity) {
    fullReason = `disk resized from ${parentIndex.capacity} to ${input.capacity} bytes`;
  }
  const incremental = fullReason === null && parentIndex !== undefined && input.changed !== "all";

  let index = new DiskIndex(input.capacity, cs);
  let slots: number[];
  let subBlocks: Map<number, number[]> | undefined;
  if (incremental) {
    // Each touched slot's parent entry is read (planDelta) before the slot is set: no copy needed.
    index = DiskIndex.inherit(parentIndex, { adopt: true });
    const extents = checkExtents(input.changed, input.capacity);
    slots = slotsTouched(extents, cs);
    subBlocks = subBlocksTouched(extents, cs);
  } else if (zeroElsewhere) {
    slots = slotsTouched(checkExtents(input.changed, input.capacity), cs);
  } else {
    // A full read still skips areas the source knows to be unallocated: they read as zeros.
    const allocated = input.source.allocated ? await input.source.allocated(options.signal) : undefined;
    slots = allocated
      ? slotsTouched(
          [...allocated].filter((e) => e.length > 0).sort((a, b) => a.start - b.start),
          cs,
        )
      : Array.from({ length: index.count }, (_, i) => i);
    slots = slots.filter((s) => s < index.count);
  }

  // Ids this write stored need no second look. Ids the parent references are still looked up
  // (and touched): the parent's copy may have been quarantined by verify or never replicated.
  let known = new DigestSet(1024);
  const stats: SlotStats = { bytesRead: 0, bytesNew: 0, bytesStored: 0, chunksRead: 0, chunksNew: 0 };
  const bytesTotal = slots.reduce((n, s) => n + index.slotLength(s), 0);
  const pending = new Map<string, Promise<void>>();

  const lanes = options.concurrency ?? repo.inFlight("write");
  let done = 0;
  /** Stores a sealed chunk once per write; a second slot with the same id waits for the first. */
  const store = async (
    id: Buffer,
    parts: readonly Buffer[],
    length: number,
    likelyNew = false,
  ): Promise<void> => {
    if (known.has(id)) return;
    const hex = id.toString("hex");
    const inFlight = pending.get(hex);
    if (inFlight) return inFlight;
    const work = storeChunk(repo, id, parts, length, stats, likelyNew, options.signal);
    pending.set(hex, work);
    await work;
    // Only saves a second touch: bounded (~16 MiB) so memory does not grow with the disk.
    if (known.size >= KNOWN_LIMIT) known = new DigestSet(1024);
    known.add(id);
    pending.delete(hex);
  };
  const behind = new WriteBehind(WRITE_BEHIND_COUNT, WRITE_BEHIND_BYTES);
  // Deltas go into packs of up to a chunk (delta.ts); each pack is stored in the background (its
  // memory is its own) and, being nearly always new, written first and touched only when there.
  const packer = subBlocks
    ? new DeltaPacker(cs, async ({ lane, length, entries, release }) => {
        const sealed = await repo.sealChunk(lane, length);
        const id = sealed.id;
        if (!id) throw new RangeError("a delta pack cannot be all zeros"); // it starts with its magic
        for (const e of entries) index.setDelta(e.slot, id, e.base);
        await behind.add(length, () =>
          store(id, sealed.parts, length, true).finally(() => release(sealed.lane)),
        );
      })
    : undefined;
  try {
    await runLanes(
      slots,
      laneBuffers(Math.min(lanes, slots.length), cs + CHUNK_BLOB_OVERHEAD),
      async (slot, lane) => {
        options.signal?.throwIfAborted();
        const length = index.slotLength(slot);
        const delta =
          subBlocks && packer && parentIndex
            ? await planDelta(repo, parentIndex, slot, subBlocks.get(slot) ?? [], options.signal)
            : undefined;
        let back: Buffer;
        if (delta && packer)
          back = await writeDelta(input, index, slot, lane, delta, stats, packer, options.signal);
        else {
          await readFully(input, lane.subarray(0, length), slot * cs, options.signal);
          stats.bytesRead += length;
          stats.chunksRead++;
          // The worker hashes, checks for zeros and seals; the slot's memory comes back with the result.
          const sealed = await repo.sealChunk(lane, length);
          if (sealed.id === null) index.setId(slot, ZERO_ID);
          else {
            index.setId(slot, sealed.id);
            await store(sealed.id, sealed.parts, length);
          }
          back = sealed.lane;
        }
        done += length;
        options.onProgress?.({ disk: input.key, bytesDone: done, bytesTotal });
        return back;
      },
    );
    await packer?.finish();
  } catch (err) {
    // Writes already started settle before the failure is reported (theirs would only repeat it).
    await behind.drain().catch(() => {});
    throw err;
  }
  // Every write is durable-pending before the index can name it.
  await behind.drain();

  const zeroChunks = countZero(index);
  return {
    index,
    disk: {
      key: input.key,
      capacity: input.capacity,
      changeId: input.changeId ?? null,
      read: incremental ? "incremental" : "full",
      fullReason,
      index: { sha256: "", chunks: index.count, zeroChunks },
      stats,
    },
  };
}

interface DeltaPlan {
  readonly base: Buffer;
  /** Sub-blocks changed since the parent: read from the source. */
  readonly changed: readonly number[];
  /** Sub-blocks the new delta holds: the changed ones and those of the parent's delta. */
  readonly held: readonly number[];
  readonly carried: ParsedDelta | undefined;
}

/**
 * Whether a touched slot of an incremental becomes a delta (delta.ts), over which base and with
 * which sub-blocks; undefined when it is stored whole. A slot that held a delta keeps its base and
 * carries the old delta's sub-blocks, so a slot never needs more than base + delta.
 */
async function planDelta(
  repo: Repository,
  parent: DiskIndex,
  slot: number,
  changed: readonly number[],
  signal: AbortSignal | undefined,
): Promise<DeltaPlan | undefined> {
  const length = parent.slotLength(slot);
  if (changed.length === 0 || !storeAsDelta(length, changed.length)) return undefined;
  const parentBase = parent.baseOf(slot);
  let carried: ParsedDelta | undefined;
  let held = changed;
  if (parentBase !== undefined) {
    const id = Buffer.from(parent.id(slot));
    carried = parseChecked(await repo.getPack(id, signal), slot, id, parentBase, length);
    held = unionSorted(
      changed,
      carried.blocks.map((b) => b.index),
    );
    if (!storeAsDelta(length, held.length)) return undefined;
  }
  // A copy: the parent's ids are the new index's (adopted), and this slot's entry is about to change.
  const base = Buffer.from(parentBase ?? (parent.isZero(slot) ? ZERO_ID : parent.id(slot)));
  return { base, changed, held, carried };
}

/** Reads a slot's changed sub-blocks into a delta laid out in `lane` and adds it to the pack. */
async function writeDelta(
  input: DiskInput,
  index: DiskIndex,
  slot: number,
  lane: Buffer,
  plan: DeltaPlan,
  stats: SlotStats,
  packer: DeltaPacker,
  signal: AbortSignal | undefined,
): Promise<Buffer> {
  const layout = writeDeltaHeader(lane, index.slotLength(slot), plan.base, plan.held);
  const changed = new Set(plan.changed);
  const carried = new Map(plan.carried?.blocks.map((b) => [b.index, b.data]));
  const slotStart = slot * index.chunkSize;
  // Runs of changed sub-blocks lie back to back in the lane and on the disk: one read each.
  for (let i = 0; i < layout.blocks.length;) {
    const first = layout.blocks[i]!;
    if (!changed.has(first.index)) {
      lane.set(carried.get(first.index)!, first.at);
      i++;
      continue;
    }
    let bytes = first.length;
    let j = i + 1;
    for (; j < layout.blocks.length; j++) {
      const b = layout.blocks[j]!;
      if (!changed.has(b.index) || b.index !== layout.blocks[j - 1]!.index + 1) break;
      bytes += b.length;
    }
    await readFully(
      input,
      lane.subarray(first.at, first.at + bytes),
      slotStart + first.index * SUB_BLOCK,
      signal,
    );
    stats.bytesRead += bytes;
    i = j;
  }
  stats.chunksRead++;
  const header = layout.blocks[0]?.at ?? layout.length;
  if (plan.base.equals(ZERO_ID) && isAllZero(lane.subarray(header, layout.length))) {
    // Zeros laid over zeros: the slot is (still) empty.
    index.setId(slot, ZERO_ID);
    return lane;
  }
  await packer.add(slot, lane.subarray(0, layout.length), plan.base);
  return lane;
}

/**
 * A chunk already in the store is touched rather than rewritten: garbage collection spares objects
 * touched after its cutoff, so a chunk this point relies on cannot be swept before the manifest lands.
 * A chunk `likelyNew` is written first and touched only when the write finds one there (one
 * system call less for each new delta).
 */
async function storeChunk(
  repo: Repository,
  id: Buffer,
  parts: readonly Buffer[],
  length: number,
  stats: SlotStats,
  likelyNew: boolean,
  signal: AbortSignal | undefined,
): Promise<void> {
  const key = keys.chunk(id.toString("hex"));
  if (!likelyNew && (await repo.storage.touch(key))) return;
  const stored = await repo.putSealedChunk(id, parts, signal);
  if (stored === 0 && likelyNew) await repo.storage.touch(key);
  if (stored > 0) {
    stats.bytesNew += length;
    stats.bytesStored += stored;
    stats.chunksNew++;
  }
}

async function readFully(
  input: DiskInput,
  target: Buffer,
  offset: number,
  signal?: AbortSignal,
): Promise<void> {
  let done = 0;
  while (done < target.length) {
    let n: number;
    try {
      n = await input.source.read(target.subarray(done), offset + done, signal);
    } catch (err) {
      if ((err as Error).name === "SnapvisorError" || (err as Error).name === "AbortError") throw err;
      throw repoError(
        "SOURCE_READ",
        `Cannot read disk "${input.key}" at offset ${offset + done}: ${(err as Error).message}`,
        {
          cause: err,
          retryable: true,
        },
      );
    }
    if (n <= 0) {
      throw repoError(
        "SOURCE_READ",
        `Disk "${input.key}" ended at ${offset + done}, before its capacity ${input.capacity}`,
      );
    }
    done += n;
  }
}

const KNOWN_LIMIT = 128 * 1024;
/** Delta packs written in the background at once (write-behind.ts); bytes bound it first. */
const WRITE_BEHIND_COUNT = 64;
const WRITE_BEHIND_BYTES = 32 * 1024 * 1024;

function countZero(index: DiskIndex): number {
  let n = 0;
  for (let s = 0; s < index.count; s++) if (index.isZero(s)) n++;
  return n;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
