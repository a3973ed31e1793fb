/**
 * Changed Block Tracking of one disk, as ESXi models it: a changeId `<uuid>/<seq>` names a point in
 * the tracking history; `*` asks for every allocated area; a reset (power loss, disable/enable, a fault
 * rule) replaces the uuid so older changeIds stop working (FileFault). Answers may over-report
 * (block granularity, allocation union) but never under-report. Pure: no I/O, no clock.
 */
import { randomBytes } from "node:crypto";

export interface ChangeExtent {
  readonly start: number;
  readonly length: number;
}

export interface ChangeAnswer {
  readonly startOffset: number;
  readonly length: number;
  readonly extents: readonly ChangeExtent[];
}

export type ChangeQueryResult = { ok: true; answer: ChangeAnswer } | { ok: false; reason: string };

/** `52 de ... 6a` style uuid, as ESXi writes it in changeIds. */
export function newCtkUuid(): string {
  const b = randomBytes(16);
  b[0] = 0x52;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0"));
  return `${hex.slice(0, 8).join(" ")}-${hex.slice(8).join(" ")}`;
}

class Bitmap {
  readonly bits: Uint8Array;
  constructor(readonly size: number) {
    this.bits = new Uint8Array(Math.ceil(size / 8));
  }
  set(i: number): void {
    this.bits[i >> 3]! |= 1 << (i & 7);
  }
  has(i: number): boolean {
    return (this.bits[i >> 3]! & (1 << (i & 7))) !== 0;
  }
  orInto(target: Uint8Array): void {
    for (let i = 0; i < this.bits.length; i++) target[i]! |= this.bits[i]!;
  }
}

export class ChangeTracker {
  #uuid: string;
  #seq = 0;
  /** Blocks written during each seq (writes after the point `uuid/seq` was handed out go to seq+1). */
  #epochs = new Map<number, Bitmap>();
  readonly #blocks: number;

  constructor(
    readonly capacity: number,
    readonly blockSize: number,
    uuid: string = newCtkUuid(),
  ) {
    this.#uuid = uuid;
    this.#blocks = Math.ceil(capacity / blockSize);
  }

  get uuid(): string {
    return this.#uuid;
  }

  /** The changeId of the disk as of now. */
  get changeId(): string {
    return `${this.#uuid}/${this.#seq}`;
  }

  /** Records a guest write. */
  markWrite(offset: number, length: number): void {
    if (length <= 0) return;
    let bm = this.#epochs.get(this.#seq + 1);
    if (!bm) this.#epochs.set(this.#seq + 1, (bm = new Bitmap(this.#blocks)));
    const first = Math.floor(offset / this.blockSize);
    const last = Math.floor((offset + length - 1) / this.blockSize);
    for (let b = first; b <= last; b++) bm.set(b);
  }

  /** Closes the current epoch (a snapshot): returns the changeId the snapshot's disk carries. */
  point(): string {
    this.#seq += 1;
    return this.changeId;
  }

  /** Tracking information lost: a new uuid, history gone. */
  reset(uuid: string = newCtkUuid()): void {
    this.#uuid = uuid;
    this.#seq = 0;
    this.#epochs.clear();
  }

  /**
   * Areas changed after `since` up to the point `until` (a changeId this tracker handed out, or
   * `live` for the disk as it is now), from `startOffset`, at most `maxExtents` extents; `allocated`
   * answers `*` queries.
   */
  query(
    since: string,
    until: string,
    startOffset: number,
    maxExtents: number,
    allocated: () => Uint8Array,
  ): ChangeQueryResult {
    const live = until === "live";
    const end = live ? ({ ok: true, seq: this.#seq } as const) : this.#parse(until);
    if (!end.ok) return { ok: false, reason: `snapshot changeId ${until}: ${end.reason}` };
    let map: Uint8Array;
    if (since === "*") {
      map = allocated();
    } else {
      const from = this.#parse(since);
      if (!from.ok) return { ok: false, reason: `changeId ${since}: ${from.reason}` };
      if (from.seq > end.seq) return { ok: false, reason: `changeId ${since} is newer than ${until}` };
      map = new Uint8Array(Math.ceil(this.#blocks / 8));
      // Against the live disk, writes not yet closed by a point count too.
      const last = live ? end.seq + 1 : end.seq;
      for (let s = from.seq + 1; s <= last; s++) this.#epochs.get(s)?.orInto(map);
    }
    return { ok: true, answer: extentsFrom(map, this.blockSize, this.capacity, startOffset, maxExtents) };
  }

  #parse(changeId: string): { ok: true; seq: number } | { ok: false; reason: string } {
    const m = /^(.+)\/(\d+)$/.exec(changeId);
    if (!m) return { ok: false, reason: "not of the form <uuid>/<seq>" };
    if (m[1] !== this.#uuid) return { ok: false, reason: `tracking uuid is ${this.#uuid}` };
    const seq = Number(m[2]);
    if (seq > this.#seq) return { ok: false, reason: `sequence ${seq} was never handed out` };
    return { ok: true, seq };
  }
}

/** Coalesced extents of the set blocks of `map` from `startOffset`, clipped to the disk. */
export function extentsFrom(
  map: Uint8Array,
  blockSize: number,
  capacity: number,
  startOffset: number,
  maxExtents: number,
): ChangeAnswer {
  const extents: ChangeExtent[] = [];
  const blocks = Math.ceil(capacity / blockSize);
  const has = (b: number) => (map[b >> 3]! & (1 << (b & 7))) !== 0;
  let b = Math.floor(startOffset / blockSize);
  while (b < blocks) {
    if (!has(b)) {
      b++;
      continue;
    }
    if (extents.length === maxExtents) {
      // Page full: the answer covers up to the start of the next changed block.
      const covered = Math.max(b * blockSize, startOffset);
      return { startOffset, length: covered - startOffset, extents };
    }
    const first = b;
    while (b < blocks && has(b)) b++;
    const start = Math.max(first * blockSize, startOffset);
    const stop = Math.min(b * blockSize, capacity);
    extents.push({ start, length: stop - start });
  }
  return { startOffset, length: capacity - startOffset, extents };
}

/** A bitmap of blocks holding data (ever written), for `*` queries. */
export class AllocationMap {
  readonly bits: Uint8Array;
  constructor(
    readonly capacity: number,
    readonly blockSize: number,
  ) {
    this.bits = new Uint8Array(Math.ceil(Math.ceil(capacity / blockSize) / 8));
  }
  mark(offset: number, length: number): void {
    if (length <= 0) return;
    const first = Math.floor(offset / this.blockSize);
    const last = Math.floor((offset + length - 1) / this.blockSize);
    for (let b = first; b <= last; b++) this.bits[b >> 3]! |= 1 << (b & 7);
  }
}
