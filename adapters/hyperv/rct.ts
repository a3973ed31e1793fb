/**
 * RCT bookkeeping (pure): the change id a recovery point stores, and the reasons for a full read.
 * A Hyper-V RCT id exists only once the checkpoint is converted to a reference point, which happens
 * after the repository commit; so the point stores where to find it next time: the name of our
 * reference point and the disk's identifier, resolved to the RCT id by the next run.
 */
export interface ChangeLocator {
  readonly referencePoint: string;
  readonly diskId: string;
}

const PREFIX = "rp:";

export function encodeChangeId(l: ChangeLocator): string {
  return `${PREFIX}${l.referencePoint}|${l.diskId}`;
}

export function decodeChangeId(changeId: string): ChangeLocator | undefined {
  if (!changeId.startsWith(PREFIX)) return undefined;
  const body = changeId.slice(PREFIX.length);
  const bar = body.lastIndexOf("|");
  if (bar <= 0 || bar === body.length - 1) return undefined;
  return { referencePoint: body.slice(0, bar), diskId: body.slice(bar + 1) };
}

/** virtdisk errors that mean "tracking is gone, read everything". */
export const RCT_RESET_CODES: Readonly<Record<string, string>> = {
  "0xC03A0022": "the VHDX changed offline (compaction, expansion or an offline edit)",
  "0xC03A0024": "the change tracking file is inconsistent",
  "0xC03A0029": "the change tracking id is not valid",
  "0xC03A0030": "no change tracking data is left for the id",
};

/** The virtdisk code in a job's ErrorCode (as uint32) or description, if it is one of ours. */
export function rctResetCode(errorCode: number, description: string): string | undefined {
  const fromCode = `0x${(errorCode >>> 0).toString(16).toUpperCase().padStart(8, "0")}`.replace("0X", "0x");
  if (RCT_RESET_CODES[fromCode] !== undefined) return fromCode;
  const m = /0x(C03A00(?:22|24|29|30))/i.exec(description);
  return m?.[1] ? `0x${m[1].toUpperCase()}` : undefined;
}
