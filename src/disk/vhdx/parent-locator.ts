/** VHDX parent locator item: key/value pairs (UTF-16LE) naming a differencing disk's parent. */
import { guidAt, putGuid, putU16, putU32, u16, u32, utf16le } from "../bytes.js";
import { diskError } from "../errors.js";
import { PARENT_LOCATOR_VHDX } from "./format.js";

export interface ParentLocator {
  readonly type: string;
  readonly entries: ReadonlyMap<string, string>;
}

export function decodeParentLocator(data: Uint8Array, path: string): ParentLocator {
  const fail = (message: string): Error =>
    diskError("VHDX_METADATA_INVALID", `Invalid parent locator in "${path}": ${message}`, { path });
  if (data.length < 20) throw fail(`item is ${data.length} bytes`);
  const type = guidAt(data, 0);
  if (type !== PARENT_LOCATOR_VHDX)
    throw fail(`locator type ${type} is not the VHDX type ${PARENT_LOCATOR_VHDX}`);
  const count = u16(data, 18);
  if (20 + count * 12 > data.length) throw fail(`${count} entries do not fit in ${data.length} bytes`);
  const entries = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    const at = 20 + i * 12;
    const keyOffset = u32(data, at);
    const valueOffset = u32(data, at + 4);
    const keyLength = u16(data, at + 8);
    const valueLength = u16(data, at + 10);
    if (keyOffset + keyLength > data.length || valueOffset + valueLength > data.length || keyLength === 0) {
      throw fail(`entry ${i} points outside the item`);
    }
    const key = utf16le(data.subarray(keyOffset, keyOffset + keyLength));
    const value = utf16le(data.subarray(valueOffset, valueOffset + valueLength));
    if (entries.has(key)) throw fail(`key ${JSON.stringify(key)} listed twice`);
    entries.set(key, value);
  }
  return { type, entries };
}

export function encodeParentLocator(entries: ReadonlyMap<string, string>): Uint8Array {
  const pairs = [...entries].map(([k, v]) => [Buffer.from(k, "utf16le"), Buffer.from(v, "utf16le")] as const);
  const tableEnd = 20 + pairs.length * 12;
  const size = tableEnd + pairs.reduce((n, [k, v]) => n + k.length + v.length, 0);
  const out = new Uint8Array(size);
  putGuid(out, 0, PARENT_LOCATOR_VHDX);
  putU16(out, 18, pairs.length);
  let at = tableEnd;
  pairs.forEach(([k, v], i) => {
    const entry = 20 + i * 12;
    putU32(out, entry, at);
    out.set(k, at);
    at += k.length;
    putU32(out, entry + 4, at);
    out.set(v, at);
    at += v.length;
    putU16(out, entry + 8, k.length);
    putU16(out, entry + 10, v.length);
  });
  return out;
}
