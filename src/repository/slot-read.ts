import { applyDelta, DeltaFormatError, parseDelta } from "./delta.js";
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
): Promise<{ plain: Buffer; lane: Buffer }> {
  const id = index.id(slot);
  const length = index.slotLength(slot);
  const base = index.baseOf(slot);
  let read: { plain: Buffer; lane: Buffer };
  if (base === undefined) read = await repo.readChunkIn(id, lane, signal);
  else {
    const delta = parseChecked(await repo.getChunkUnpooled(id, signal), id, base, length);
    if (base.equals(ZERO_ID)) read = { plain: lane.fill(0, 0, length).subarray(0, length), lane };
    else read = await repo.readChunkIn(base, lane, signal);
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

function parseChecked(plain: Buffer, id: Buffer, base: Buffer, length: number) {
  const hex = id.toString("hex");
  try {
    const delta = parseDelta(plain);
    if (!delta.base.equals(base))
      throw new DeltaFormatError(
        `its base is ${delta.base.toString("hex")}, the index names ${base.toString("hex")}`,
      );
    if (delta.slotLength !== length)
      throw new DeltaFormatError(`it is for ${delta.slotLength} bytes, the slot has ${length}`);
    return delta;
  } catch (err) {
    if (!(err instanceof DeltaFormatError)) throw err;
    throw repoError("CHUNK_CORRUPT", `Delta ${hex} is corrupt: ${err.message}`, {
      cause: err,
      details: { chunk: hex },
    });
  }
}
