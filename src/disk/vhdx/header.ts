/** VHDX file identifier and the two headers: pure decode/encode with CRC-32C checks. */
import {
  ascii,
  guidAt,
  putAscii,
  putGuid,
  putU16,
  putU32,
  putU64,
  u16,
  u32,
  u64big,
  ZERO_GUID,
} from "../bytes.js";
import { crc32c, crc32cWithZeroedField } from "../crc32c.js";
import { diskError } from "../errors.js";
import { FILE_IDENTIFIER_SIGNATURE, HEADER_SIGNATURE, HEADER_SIZE, MiB } from "./format.js";

export interface VhdxHeader {
  readonly sequenceNumber: bigint;
  readonly fileWriteGuid: string;
  readonly dataWriteGuid: string;
  readonly logGuid: string;
  readonly logVersion: number;
  readonly version: number;
  readonly logLength: number;
  readonly logOffset: number;
}

export function isVhdxFileIdentifier(bytes: Uint8Array): boolean {
  return ascii(bytes, 0, 8) === FILE_IDENTIFIER_SIGNATURE;
}

export function encodeFileIdentifier(creator: string): Uint8Array {
  const out = new Uint8Array(64 * 1024);
  putAscii(out, 0, FILE_IDENTIFIER_SIGNATURE);
  const text = Buffer.from(creator.slice(0, 255), "utf16le");
  out.set(text, 8);
  return out;
}

/** Decodes one 4 KiB header; returns the reason it is invalid instead of throwing. */
export function decodeHeader(bytes: Uint8Array): VhdxHeader | { readonly invalid: string } {
  if (bytes.length < HEADER_SIZE) return { invalid: `truncated (${bytes.length} bytes)` };
  const block = bytes.subarray(0, HEADER_SIZE);
  const signature = ascii(block, 0, 4);
  if (signature !== HEADER_SIGNATURE) return { invalid: `signature is ${JSON.stringify(signature)}` };
  const stored = u32(block, 4);
  const computed = crc32cWithZeroedField(block, 4);
  if (stored !== computed) {
    return { invalid: `CRC-32C mismatch (stored ${hex(stored)}, computed ${hex(computed)})` };
  }
  const version = u16(block, 66);
  if (version !== 1) return { invalid: `version is ${version}, expected 1` };
  const logOffset = u64big(block, 72);
  if (logOffset > BigInt(Number.MAX_SAFE_INTEGER)) return { invalid: `log offset ${logOffset} too large` };
  return {
    sequenceNumber: u64big(block, 8),
    fileWriteGuid: guidAt(block, 16),
    dataWriteGuid: guidAt(block, 32),
    logGuid: guidAt(block, 48),
    logVersion: u16(block, 64),
    version,
    logLength: u32(block, 68),
    logOffset: Number(logOffset),
  };
}

/**
 * The active header: of the valid ones, the one with the higher sequence number. Two valid headers
 * with the same sequence number are accepted when identical (Disk2VHD writes them so).
 */
export function selectHeader(first: Uint8Array, second: Uint8Array, path: string): VhdxHeader {
  const a = decodeHeader(first);
  const b = decodeHeader(second);
  if ("invalid" in a && "invalid" in b) {
    throw diskError(
      "VHDX_HEADER_INVALID",
      `No valid VHDX header in "${path}": header 1 ${a.invalid}; header 2 ${b.invalid}`,
      {
        path,
        header1: a.invalid,
        header2: b.invalid,
      },
    );
  }
  if ("invalid" in a) return b as VhdxHeader;
  if ("invalid" in b) return a;
  if (a.sequenceNumber === b.sequenceNumber && !sameHeader(a, b)) {
    throw diskError(
      "VHDX_HEADER_INVALID",
      `Both VHDX headers of "${path}" carry sequence number ${a.sequenceNumber} but differ`,
      {
        path,
        sequenceNumber: a.sequenceNumber.toString(),
      },
    );
  }
  return a.sequenceNumber >= b.sequenceNumber ? a : b;
}

function sameHeader(a: VhdxHeader, b: VhdxHeader): boolean {
  return (
    a.fileWriteGuid === b.fileWriteGuid &&
    a.dataWriteGuid === b.dataWriteGuid &&
    a.logGuid === b.logGuid &&
    a.logOffset === b.logOffset &&
    a.logLength === b.logLength
  );
}

/** Refuses headers whose log must be replayed or whose log area is malformed. */
export function checkLog(header: VhdxHeader, fileSize: number, path: string): void {
  if (header.logGuid !== ZERO_GUID) {
    throw diskError(
      "VHDX_LOG_REPLAY_REQUIRED",
      `VHDX "${path}" has a log to replay (LogGuid ${header.logGuid}): it was not closed cleanly or is open for writing; open it with Hyper-V once, or read it from a checkpoint`,
      { path, logGuid: header.logGuid },
    );
  }
  if (
    header.logLength % MiB !== 0 ||
    header.logOffset % MiB !== 0 ||
    header.logOffset + header.logLength > fileSize
  ) {
    throw diskError(
      "VHDX_HEADER_INVALID",
      `VHDX "${path}" has a malformed log area (offset ${header.logOffset}, length ${header.logLength})`,
      {
        path,
        logOffset: header.logOffset,
        logLength: header.logLength,
      },
    );
  }
}

export function encodeHeader(header: VhdxHeader): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE);
  putAscii(out, 0, HEADER_SIGNATURE);
  putU64(out, 8, header.sequenceNumber);
  putGuid(out, 16, header.fileWriteGuid);
  putGuid(out, 32, header.dataWriteGuid);
  putGuid(out, 48, header.logGuid);
  putU16(out, 64, header.logVersion);
  putU16(out, 66, header.version);
  putU32(out, 68, header.logLength);
  putU64(out, 72, header.logOffset);
  putU32(out, 4, crc32c(out));
  return out;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, "0")}`;
}
