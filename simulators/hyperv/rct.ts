/**
 * Resilient change tracking as the simulator keeps it: each write is tagged with the disk's current
 * generation; a checkpoint closes a generation and its RCT id names it (`rctX:<epoch>:<gen>`).
 * A reset (compaction, offline edit, corrupt tracking file) starts a new epoch: older ids fail with the
 * virtdisk error recorded for the reset.
 */
import type { RctLog } from "./model.js";

export const RCT_MESSAGES: Record<string, string> = {
  "0xC03A0022": "The VHD file is changed due to compaction, expansion, or offline updates.",
  "0xC03A0024": "The change tracking file is inconsistent with the virtual disk.",
  "0xC03A0029": "The specified change tracking identifier is not valid.",
  "0xC03A0030":
    "There is no change tracking data available associated with the specified change tracking identifier.",
};

export class RctFailure extends Error {
  constructor(readonly code: string) {
    super(RCT_MESSAGES[code] ?? "Change tracking failed.");
  }
}

/** The generation named by `limitId`, or the virtdisk error Hyper-V gives for it. */
export function checkLimitId(limitId: string, log: RctLog, targetEpoch: string, targetGen: number): number {
  const m = /^rctX:([0-9a-f-]{36}):(\d+)$/i.exec(limitId);
  if (!m?.[1] || !m[2]) throw new RctFailure("0xC03A0029");
  const epoch = m[1].toLowerCase();
  const gen = Number(m[2]);
  if (epoch !== targetEpoch.toLowerCase() || epoch !== log.epoch.toLowerCase()) {
    throw new RctFailure(log.resetCode ?? "0xC03A0029");
  }
  if (gen > targetGen) throw new RctFailure("0xC03A0029");
  return gen;
}

const GRAIN = 4096;

/** Merged, 4 KiB-aligned ranges written after `limitGen` up to `targetGen`, inside the window. */
export function changedRanges(
  writes: RctLog["writes"],
  limitGen: number,
  targetGen: number,
  offset: number,
  length: number,
): Array<{ start: number; length: number }> {
  const end = offset + length;
  const spans = writes
    .filter((w) => w.gen > limitGen && w.gen <= targetGen)
    .map((w) => ({
      start: Math.max(offset, Math.floor(w.start / GRAIN) * GRAIN),
      end: Math.min(end, Math.ceil((w.start + w.length) / GRAIN) * GRAIN),
    }))
    .filter((s) => s.end > s.start)
    .sort((a, b) => a.start - b.start);
  const out: Array<{ start: number; length: number }> = [];
  let cur: { start: number; end: number } | undefined;
  for (const s of spans) {
    if (cur && s.start <= cur.end) cur.end = Math.max(cur.end, s.end);
    else {
      if (cur) out.push({ start: cur.start, length: cur.end - cur.start });
      cur = { ...s };
    }
  }
  if (cur) out.push({ start: cur.start, length: cur.end - cur.start });
  return out;
}
