/**
 * Where a chunk's CPU work runs: on a worker thread, or on the main thread itself.
 *
 * A worker thread is a new V8 isolate that must load blob.js and node-zstd before it takes its first
 * chunk: 54 ms for one, 81 ms for two here (2 cores, load 4), while the main thread seals the
 * repository benchmark's mix at 2.8 ms per MiB, so 19-29 MiB meanwhile (bench/chunk-placement.ts).
 * A job of a few MiB (a small incremental, a restore of a small disk) is therefore done on the main
 * thread long before one worker would have answered; a large job wants every core. The pool starts
 * once the main thread has taken `inlineBytes` (about what it seals during a start), and until a
 * worker says it is ready the main thread goes on taking chunks, so no chunk waits for a start.
 */

/** The main thread's share before the workers start (see bench/chunk-placement.ts). */
export const INLINE_BYTES = 32 * 1024 * 1024;

export interface PlacementState {
  /** Bytes of the chunk (or blob) to place. */
  readonly length: number;
  /** Bytes the main thread has taken so far. */
  readonly inlineDone: number;
  /** The main thread's share before the pool starts; 0 keeps every chunk off the main thread. */
  readonly inlineBytes: number;
  /** Whether the workers have been started. */
  readonly started: boolean;
  /** Workers that have loaded and answered that they are ready. */
  readonly ready: number;
}

export interface Placement {
  readonly run: "inline" | "worker";
  /** Start the workers now (they are not started yet and will be wanted). */
  readonly start: boolean;
}

export function placeChunkWork(s: PlacementState): Placement {
  if (s.ready > 0) return { run: "worker", start: false };
  if (s.inlineBytes <= 0) return { run: "worker", start: !s.started };
  // While no worker is ready the main thread takes the chunk: waiting would leave it idle.
  return { run: "inline", start: !s.started && s.inlineDone + s.length > s.inlineBytes };
}

/**
 * Whether to start the workers ahead of a job expected to process `expectedBytes` (unknown:
 * undefined), so their start overlaps the job's reading of manifests and indexes.
 */
export function warmAhead(expectedBytes: number | undefined, inlineBytes: number): boolean {
  if (inlineBytes <= 0) return true;
  return expectedBytes !== undefined && expectedBytes > inlineBytes;
}
