import { repoError } from "./errors.js";

/**
 * Machine ids and disk keys become path segments and object-store keys, so they are held to a
 * conservative alphabet: vSphere instance UUIDs, Hyper-V GUIDs, device keys ("2000") and controller
 * locations ("scsi0:1") fit; "..", slashes, NUL and control characters do not.
 */
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._:@+-]{0,127}$/;

export function isValidSegment(value: string): boolean {
  return SEGMENT.test(value) && !value.includes("..");
}

export function checkSegment(kind: "machine id" | "disk key" | "point id", value: string): string {
  if (!isValidSegment(value)) {
    throw repoError(
      "INVALID_ID",
      `Invalid ${kind} ${JSON.stringify(value)}: use 1-128 of A-Z a-z 0-9 . _ : @ + - (not starting with . or -, no "..")`,
      { details: { kind, value } },
    );
  }
  return value;
}

const POINT_ID = /^\d{8}T\d{6}(\d{3})?Z-[0-9a-f]{8}$/;

/** Point ids sort by creation time: `20261121T235959123Z-1a2b3c4d`. */
export function newPointId(now: Date, random: string): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(".", "");
  return `${stamp}-${random}`;
}

export function isPointId(value: string): boolean {
  return POINT_ID.test(value);
}
