/**
 * Little-endian field access for on-disk structures. 64-bit fields are read as bigint and converted
 * to numbers only through `u64`, which refuses values above 2^53 so offsets never lose precision.
 */
import { diskError, type DiskErrorCode } from "./errors.js";

export function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function u16(bytes: Uint8Array, offset: number): number {
  return view(bytes).getUint16(offset, true);
}

export function u32(bytes: Uint8Array, offset: number): number {
  return view(bytes).getUint32(offset, true);
}

export function u64big(bytes: Uint8Array, offset: number): bigint {
  return view(bytes).getBigUint64(offset, true);
}

/** A u64 field as a number; `code` is thrown when it does not fit in 2^53. */
export function u64(bytes: Uint8Array, offset: number, code: DiskErrorCode, field: string): number {
  const value = u64big(bytes, offset);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw diskError(code, `${field} is too large: ${value} exceeds 2^53`, { field, value: value.toString() });
  }
  return Number(value);
}

export function putU16(bytes: Uint8Array, offset: number, value: number): void {
  view(bytes).setUint16(offset, value, true);
}

export function putU32(bytes: Uint8Array, offset: number, value: number): void {
  view(bytes).setUint32(offset, value >>> 0, true);
}

export function putU64(bytes: Uint8Array, offset: number, value: number | bigint): void {
  view(bytes).setBigUint64(offset, BigInt(value), true);
}

export function ascii(bytes: Uint8Array, offset: number, length: number): string {
  let out = "";
  for (let i = offset; i < offset + length && i < bytes.length; i++)
    out += String.fromCharCode(bytes[i] ?? 0);
  return out;
}

export function putAscii(bytes: Uint8Array, offset: number, text: string): void {
  for (let i = 0; i < text.length; i++) bytes[offset + i] = text.charCodeAt(i) & 0xff;
}

/** True when every byte is zero (word-at-a-time when aligned, the hot path of zero detection). */
export function isAllZero(bytes: Uint8Array): boolean {
  let i = 0;
  if (bytes.byteOffset % 8 === 0) {
    const words = new BigUint64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 3);
    for (const w of words) if (w !== 0n) return false;
    i = words.length * 8;
  }
  for (; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/**
 * A GUID in Microsoft mixed-endian layout (Data1 u32 LE, Data2/Data3 u16 LE, Data4 raw) as the
 * usual upper-case text form without braces.
 */
export function guidAt(bytes: Uint8Array, offset: number): string {
  const hex = (n: number, width: number): string => n.toString(16).padStart(width, "0");
  const d1 = hex(u32(bytes, offset), 8);
  const d2 = hex(u16(bytes, offset + 4), 4);
  const d3 = hex(u16(bytes, offset + 6), 4);
  let d4 = "";
  for (let i = 8; i < 16; i++) d4 += hex(bytes[offset + i] ?? 0, 2);
  return `${d1}-${d2}-${d3}-${d4.slice(0, 4)}-${d4.slice(4)}`.toUpperCase();
}

/** Writes a GUID (text form, braces optional) in Microsoft mixed-endian layout. */
export function putGuid(bytes: Uint8Array, offset: number, guid: string): void {
  const hex = guid.replace(/[{}-]/g, "");
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new TypeError(`Not a GUID: ${guid}`);
  putU32(bytes, offset, parseInt(hex.slice(0, 8), 16));
  putU16(bytes, offset + 4, parseInt(hex.slice(8, 12), 16));
  putU16(bytes, offset + 6, parseInt(hex.slice(12, 16), 16));
  for (let i = 0; i < 8; i++) bytes[offset + 8 + i] = parseInt(hex.slice(16 + i * 2, 18 + i * 2), 16);
}

export const ZERO_GUID = "00000000-0000-0000-0000-000000000000";

export function utf16le(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf16le");
}

export function ceilDiv(a: number, b: number): number {
  return Math.floor((a + b - 1) / b);
}

export function alignUp(value: number, alignment: number): number {
  return ceilDiv(value, alignment) * alignment;
}
