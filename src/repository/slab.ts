/**
 * Lane buffers for the chunk pipeline, carved from one block of shared memory aligned to the page:
 * - shared, so the chunk workers read and write a lane in place (no copy, no transfer);
 * - page-aligned, each lane a whole number of pages, so the local store can write and read chunks
 *   with O_DIRECT (see local-storage.ts): no page cache to fill, which on a virtual machine with
 *   free page reporting costs a host fault per fresh page (5.4 s of system time per GiB here).
 * WebAssembly memory is the one page-aligned memory Node hands out; where it is missing (or cannot
 * be shared), lanes fall back to ordinary buffers, and the store to buffered I/O.
 */
export const PAGE = 4096;
const WASM_PAGE = 64 * 1024;

/** The part of the WebAssembly API used here (the project's TypeScript libs do not declare it). */
interface WasmMemoryApi {
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => { buffer: SharedArrayBuffer };
}
const wasm = (globalThis as { WebAssembly?: WasmMemoryApi }).WebAssembly;

export function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/**
 * Lanes given back with `returnLanes`, by lane size, for the next backup or restore of this
 * process (a controller job backs up many disks): fresh memory costs a page fault per page.
 */
const spare = new Map<number, Buffer[]>();
const SPARE_BYTES = 64 * 1024 * 1024;
let spareBytes = 0;

/** `count` buffers of at least `size` bytes each (rounded up to whole pages). */
export function laneBuffers(count: number, size: number): Buffer[] {
  const stride = roundUp(Math.max(1, size), PAGE);
  const reused = spare.get(stride)?.splice(0, count) ?? [];
  spareBytes -= reused.length * stride;
  return reused.length === count ? reused : [...reused, ...newLanes(count - reused.length, stride)];
}

/** Gives lanes back for reuse (a bounded number are kept; lanes that left by transfer are not). */
export function returnLanes(lanes: readonly Buffer[]): void {
  for (const lane of lanes) {
    if (!(lane.buffer instanceof SharedArrayBuffer) || spareBytes + lane.length > SPARE_BYTES) continue;
    const list = spare.get(lane.length) ?? [];
    if (list.includes(lane)) continue;
    list.push(lane);
    spare.set(lane.length, list);
    spareBytes += lane.length;
  }
}

function newLanes(count: number, stride: number): Buffer[] {
  if (count === 0) return [];
  try {
    if (!wasm) throw new Error("no WebAssembly");
    const pages = Math.max(1, Math.ceil((count * stride) / WASM_PAGE));
    const memory = new wasm.Memory({ initial: pages, maximum: pages, shared: true });
    const block = memory.buffer;
    return Array.from({ length: count }, (_, i) => Buffer.from(block, i * stride, stride));
  } catch {
    return Array.from({ length: count }, () => Buffer.allocUnsafeSlow(stride));
  }
}

/**
 * `lane`, or a fresh one of `size` bytes when its memory travelled to a worker and did not come back
 * (an ordinary buffer whose call failed: transferred memory leaves it empty).
 */
export function intact(lane: Buffer, size: number): Buffer {
  return lane.length === 0 ? laneBuffers(1, size)[0]! : lane;
}

/** True when `b` starts on a page boundary of its backing memory (the memory itself is aligned). */
export function pageAligned(b: Uint8Array): boolean {
  return b.buffer instanceof SharedArrayBuffer && b.byteOffset % PAGE === 0;
}

/** A fixed set of lanes handed out one call at a time (waiting when all are out). */
export class LanePool {
  readonly #free: Buffer[];
  readonly #waiting: ((lane: Buffer) => void)[] = [];
  readonly #size: number;

  constructor(count: number, size: number) {
    this.#free = laneBuffers(count, size);
    this.#size = size;
  }

  async use<T>(fn: (lane: Buffer) => Promise<{ result: T; lane: Buffer }>): Promise<T> {
    const lane = this.#free.pop() ?? (await new Promise<Buffer>((resolve) => this.#waiting.push(resolve)));
    let back = lane;
    try {
      const out = await fn(lane);
      back = out.lane;
      return out.result;
    } finally {
      back = intact(back, this.#size);
      const next = this.#waiting.shift();
      if (next) next(back);
      else this.#free.push(back);
    }
  }
}
