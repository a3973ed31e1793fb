import { applyDelta, deltaInPack, DeltaFormatError, parseDelta, SUB_BLOCK } from "./delta.js";
import type { ParsedDelta } from "./delta.js";
import { repoError } from "./errors.js";
import { ZERO_ID, type DiskIndex } from "./index-format.js";
import type { Repository } from "./repository.js";

/**
 * A non-zero slot's plaintext, read through `lane` (see Repository.readChunkIn): a whole chunk as
 * it is stored, or a delta laid over its base (or over zeros). Checked against the slot's length.
 */
export async function readSlotIn(
  repo: Repository,
  index: DiskIndex,
  slot: number,
  lane: Buffer,
  signal?: AbortSignal,
): Promise<SlotRead> {
  const id = index.id(slot);
  const length = index.slotLength(slot);
  const base = index.baseOf(slot);
  let read: SlotRead;
  if (base === undefined) read = await repo.readChunkIn(id, lane, signal);
  else {
    const delta = parseChecked(await repo.getPack(id, signal), slot, id, base, length);
    if (base.equals(ZERO_ID)) {
      read = { plain: lane.fill(0, 0, length).subarray(0, length), lane, data: dataRanges(delta) };
    } else read = await repo.readChunkIn(base, lane, signal);
    if (read.plain.length === length) applyDelta(read.plain, delta);
  }
  if (read.plain.length !== length) {
    const hex = (base && !base.equals(ZERO_ID) ? base : id).toString("hex");
    throw repoError(
      "CHUNK_CORRUPT",
      `Chunk ${hex} holds ${read.plain.length} bytes where slot ${slot} needs ${length}`,
      { details: { chunk: hex, slot } },
    );
  }
  return read;
}

export interface SlotRead {
  readonly plain: Buffer;
  readonly lane: Buffer;
  /**
   * Where the slot may hold non-zero bytes, when that is known to be less than all of it (a delta
   * over zeros): a restore into a fresh file writes these and leaves the rest a hole.
   */
  readonly data?: readonly { readonly start: number; readonly length: number }[];
}

/** A delta's sub-blocks as byte ranges of its slot, neighbours merged. */
function dataRanges(delta: ParsedDelta): { start: number; length: number }[] {
  const out: { start: number; length: number }[] = [];
  for (const b of delta.blocks) {
    const start = b.index * SUB_BLOCK;
    const last = out.at(-1);
    if (last && last.start + last.length === start) last.length += b.data.length;
    else out.push({ start, length: b.data.length });
  }
  return out;
}

/** The slot's delta from its pack, checked against what the index says of it. */
export function parseChecked(pack: Buffer, slot: number, id: Buffer, base: Buffer, length: number) {
  const hex = id.toString("hex");
  try {
    const delta = parseDelta(deltaInPack(pack, slot));
    if (!delta.base.equals(base))
      throw new DeltaFormatError(
        `its base is ${delta.base.toString("hex")}, the index names ${base.toString("hex")}`,
      );
    if (delta.slotLength !== length)
      throw new DeltaFormatError(`it is for ${delta.slotLength} bytes, the slot has ${length}`);
    return delta;
  } catch (err) {
    if (!(err instanceof DeltaFormatError)) throw err;
    throw repoError("CHUNK_CORRUPT", `Delta of slot ${slot} in pack ${hex} is corrupt: ${err.message}`, {
      cause: err,
      details: { chunk: hex },
    });
  }
}
