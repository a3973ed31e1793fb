import { isSnapvisorError } from "../domain/errors.js";
import { keys, type PointRef, type Repository } from "./repository.js";
import { CHUNK_BLOB_OVERHEAD } from "./blob.js";
import { runLanes } from "./pool.js";
import { intact, laneBuffers } from "./slab.js";

export interface ChunkProblem {
  readonly chunk: string;
  readonly problem: "missing" | "corrupt";
  readonly detail: string;
  /** Every point whose disks reference the chunk, as "machine/point". */
  readonly points: readonly string[];
}

export interface PointProblem {
  readonly point: string;
  readonly problems: readonly string[];
}

export interface VerifyReport {
  readonly pointsChecked: number;
  readonly chunksChecked: number;
  readonly bytesChecked: number;
  readonly chunkProblems: readonly ChunkProblem[];
  /** Points that cannot be restored whole, with why (their own files, or their chunks). */
  readonly brokenPoints: readonly PointProblem[];
}

export interface VerifyOptions {
  readonly signal?: AbortSignal;
  readonly concurrency?: number;
  /** Move corrupt chunks aside (`<key>.bad`) so the next backup of the same data stores it anew. */
  readonly quarantine?: boolean;
  readonly onProgress?: (p: { chunksDone: number; chunksTotal: number }) => void;
}

const label = (p: PointRef): string => `${p.machineId}/${p.pointId}`;

/**
 * Checks points (all by default): their manifests and indexes parse and match, and every chunk they
 * reference is present and re-hashes to its id. Each chunk is read once however many points share it.
 */
export async function verifyRepository(
  repo: Repository,
  points: readonly PointRef[] | undefined,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const selected = points ?? (await repo.listPoints());
  const users = new Map<string, Set<string>>();
  const pointProblems = new Map<string, string[]>();
  const note = (p: string, problem: string): void => {
    const list = pointProblems.get(p) ?? [];
    list.push(problem);
    pointProblems.set(p, list);
  };

  for (const ref of selected) {
    options.signal?.throwIfAborted();
    try {
      const manifest = await repo.readManifest(ref);
      for (const disk of manifest.disks) {
        try {
          const index = await repo.readIndex(manifest, disk.key);
          for (const hex of index.uniqueIds()) {
            const set = users.get(hex) ?? new Set<string>();
            set.add(label(ref));
            users.set(hex, set);
          }
        } catch (err) {
          if (!isSnapvisorError(err)) throw err;
          note(label(ref), err.message);
        }
      }
    } catch (err) {
      if (!isSnapvisorError(err)) throw err;
      note(label(ref), err.message);
    }
  }

  const ids = [...users.keys()].sort();
  const chunkProblems: ChunkProblem[] = [];
  let done = 0;
  let bytes = 0;
  const laneSize = repo.chunkSize + CHUNK_BLOB_OVERHEAD;
  const lanes = laneBuffers(Math.min(options.concurrency ?? repo.inFlight("read"), ids.length), laneSize);
  await runLanes(ids, lanes, async (hex, lane) => {
    options.signal?.throwIfAborted();
    try {
      const read = await repo.readChunkIn(Buffer.from(hex, "hex"), lane, options.signal);
      bytes += read.plain.length;
      lane = read.lane;
    } catch (err) {
      if (!isSnapvisorError(err, "CHUNK_MISSING", "CHUNK_CORRUPT")) throw err;
      const problem = err.code === "CHUNK_MISSING" ? "missing" : "corrupt";
      const affected = [...(users.get(hex) ?? [])].sort();
      chunkProblems.push({ chunk: hex, problem, detail: err.message, points: affected });
      for (const p of affected) note(p, `chunk ${hex} is ${problem}`);
      if (problem === "corrupt" && options.quarantine !== false) await quarantine(repo, hex);
      lane = intact(lane, laneSize);
    }
    done++;
    options.onProgress?.({ chunksDone: done, chunksTotal: ids.length });
    return lane;
  });

  return {
    pointsChecked: selected.length,
    chunksChecked: ids.length,
    bytesChecked: bytes,
    chunkProblems: chunkProblems.sort((a, b) => a.chunk.localeCompare(b.chunk)),
    brokenPoints: [...pointProblems]
      .map(([point, problems]) => ({ point, problems }))
      .sort((a, b) => a.point.localeCompare(b.point)),
  };
}

async function quarantine(repo: Repository, hex: string): Promise<void> {
  const key = keys.chunk(hex);
  const data = await repo.storage.get(key);
  if (!data) return;
  await repo.storage.putIfAbsent(`${key}.bad`, data);
  await repo.storage.delete(key);
  await repo.storage.flush();
}
