import { returnLanes } from "./slab.js";

/**
 * Runs `work` over `items` with at most `concurrency` in flight, each worker owning one reusable
 * buffer of `bufferSize` bytes (so memory stays at concurrency x bufferSize whatever the disk size).
 * The first failure stops new work and is rethrown after in-flight work settles.
 */
export async function runPool<T>(
  items: readonly T[],
  concurrency: number,
  bufferSize: number,
  work: (item: T, buffer: Buffer) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    const buffer = Buffer.allocUnsafe(bufferSize);
    while (!failure && next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item, buffer);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  if (failure) throw failure.err;
}

/**
 * `runPool` over lanes (slab.ts): one lane buffer per worker, which `work` may hand to another
 * thread and returns for the next item (the same memory, given back). Once every lane has settled,
 * the lanes go back to the slab's spares for the next run.
 */
export async function runLanes<T>(
  items: Iterable<T>,
  lanes: readonly Buffer[],
  work: (item: T, lane: Buffer) => Promise<Buffer>,
): Promise<void> {
  const source = items[Symbol.iterator]();
  let failure: { err: unknown } | undefined;
  const settled: Buffer[] = [];
  const run = async (first: Buffer): Promise<void> => {
    let lane = first;
    while (!failure) {
      const step = source.next();
      if (step.done) break;
      try {
        lane = await work(step.value, lane);
      } catch (err) {
        failure ??= { err };
      }
    }
    settled.push(lane);
  };
  await Promise.all(lanes.map(run));
  returnLanes(settled);
  if (failure) throw failure.err;
}
