/**
 * The disk as it was at snapshot time, read from the snapshot's read-only flat extent(s): the
 * descriptor is fetched and parsed to find them, then reads become ranged fetches, bounded in
 * concurrency per host by a shared queue. Two fetchers: HTTPS `/folder` with `Range` (here) and SSH
 * (ssh-reader.ts). Every answer is checked for exact length, so a short or misplaced range is an
 * error, never silently wrong data.
 */
import type PQueue from "p-queue";
import type { DiskSource } from "../../src/domain/ports.js";
import type { VimClient } from "./client.js";
import { throwIfAborted, vsphereError } from "./errors.js";
import type { HttpsTransport } from "./soap/transport.js";
import { flatExtents, parseDescriptor } from "./vmdk-descriptor.js";

export interface DatastorePath {
  readonly datastore: string;
  /** Path inside the datastore, `/`-separated, e.g. `vm1/vm1.vmdk`. */
  readonly path: string;
}

/** `[ds1] vm1/vm1.vmdk` -> `{ datastore: "ds1", path: "vm1/vm1.vmdk" }` (pure). */
export function parseDatastorePath(value: string): DatastorePath {
  const m = /^\[([^\]]+)\]\s*(.+)$/.exec(value);
  if (m === null)
    throw vsphereError(
      "VSPHERE_DISK_UNSUPPORTED",
      `Disk backing ${JSON.stringify(value)} is not a datastore path "[ds] dir/file.vmdk"`,
    );
  return { datastore: m[1] ?? "", path: m[2] ?? "" };
}

/** A sibling file of `of` (descriptor extents are relative to the descriptor's folder). */
export function sibling(of: DatastorePath, file: string): DatastorePath {
  if (file.startsWith("/"))
    throw vsphereError("VSPHERE_DISK_UNSUPPORTED", `Extent "${file}" of ${of.path} is an absolute path`);
  const dir = of.path.includes("/") ? of.path.slice(0, of.path.lastIndexOf("/") + 1) : "";
  return { datastore: of.datastore, path: `${dir}${file}` };
}

export interface ExtentFetcher {
  /** Whole small file as text (descriptors). */
  readText(file: DatastorePath, maxBytes: number, signal?: AbortSignal): Promise<string>;
  /** Exactly `length` bytes at `offset`. */
  readRange(file: DatastorePath, offset: number, length: number, signal?: AbortSignal): Promise<Buffer>;
  close(): Promise<void>;
}

/** `/folder/<path>?dcPath=<dc>&dsName=<ds>` with every segment encoded (pure). */
export function folderUrl(file: DatastorePath, datacenter: string): string {
  const path = file.path.split("/").map(encodeURIComponent).join("/");
  return `/folder/${path}?${new URLSearchParams({ dcPath: datacenter, dsName: file.datastore }).toString()}`;
}

/** Reads datastore files over HTTPS `/folder` with the SOAP session's cookie. */
export class FolderFetcher implements ExtentFetcher {
  readonly #client: VimClient;
  readonly #transport: HttpsTransport;
  readonly #datacenter: string;

  constructor(client: VimClient, datacenter: string) {
    this.#client = client;
    this.#transport = client.transport;
    this.#datacenter = datacenter;
  }

  async #get(file: DatastorePath, headers: Record<string, string>, maxBytes: number, signal?: AbortSignal) {
    const req = {
      method: "GET" as const,
      path: folderUrl(file, this.#datacenter),
      headers,
      maxBytes,
      signal,
    };
    const generation = this.#client.generation;
    let res = await this.#transport.request(req);
    if (res.status === 401) {
      await this.#client.relogin(signal, generation);
      res = await this.#transport.request(req);
    }
    const where = `[${file.datastore}] ${file.path}`;
    if (res.status === 404)
      throw vsphereError(
        "VSPHERE_DISK_NOT_FOUND",
        `${where} was not found on datastore "${file.datastore}" (datacenter "${this.#datacenter}")`,
      );
    if (res.status === 401 || res.status === 403)
      throw vsphereError(
        "VSPHERE_NO_PERMISSION",
        `Reading ${where} over /folder was refused: HTTP ${res.status}`,
      );
    if (res.status !== 200 && res.status !== 206) {
      throw vsphereError("VSPHERE_READ_FAILED", `Reading ${where} over /folder answered HTTP ${res.status}`, {
        retryable: res.status >= 500,
        details: { status: res.status },
      });
    }
    return res;
  }

  async readText(file: DatastorePath, maxBytes: number, signal?: AbortSignal): Promise<string> {
    const res = await this.#get(file, {}, maxBytes, signal);
    return res.body.toString("utf8");
  }

  async readRange(
    file: DatastorePath,
    offset: number,
    length: number,
    signal?: AbortSignal,
  ): Promise<Buffer> {
    const last = offset + length - 1;
    const res = await this.#get(file, { Range: `bytes=${offset}-${last}` }, length, signal);
    const where = `[${file.datastore}] ${file.path}`;
    const range = String(res.headers["content-range"] ?? "");
    const ok = res.status === 206 ? range.startsWith(`bytes ${offset}-${last}/`) : offset === 0;
    if (!ok || res.body.length !== length) {
      throw vsphereError(
        "VSPHERE_READ_FAILED",
        `Range ${offset}-${last} of ${where} answered HTTP ${res.status} "${range}" with ${res.body.length} bytes`,
        {
          retryable: true,
          details: { status: res.status, contentRange: range, bytes: res.body.length },
        },
      );
    }
    return res.body;
  }

  async close(): Promise<void> {}
}

interface Piece {
  readonly start: number;
  readonly length: number;
  /** undefined = ZERO extent. */
  readonly file: DatastorePath | undefined;
  readonly fileOffset: number;
}

export interface OpenDiskOptions {
  readonly queue: PQueue;
  /** Largest single ranged fetch; bigger reads are split and run through the queue. */
  readonly maxFetch: number;
  readonly signal?: AbortSignal | undefined;
}

/** Opens the disk whose descriptor is `descriptor` as a DiskSource of `capacity` bytes. */
export async function openFlatDisk(
  fetcher: ExtentFetcher,
  descriptor: DatastorePath,
  capacity: number,
  options: OpenDiskOptions,
): Promise<DiskSource> {
  const where = `[${descriptor.datastore}] ${descriptor.path}`;
  const text = await fetcher.readText(descriptor, 64 * 1024, options.signal);
  const extents = flatExtents(parseDescriptor(text, where), where);
  const pieces: Piece[] = [];
  let at = 0;
  for (const e of extents) {
    const length = e.sectors * 512;
    pieces.push({
      start: at,
      length,
      file: e.type === "ZERO" ? undefined : sibling(descriptor, e.file),
      fileOffset: e.offset * 512,
    });
    at += length;
  }
  if (at < capacity)
    throw vsphereError(
      "VSPHERE_DISK_UNSUPPORTED",
      `${where} describes ${at} bytes, less than the disk capacity ${capacity}`,
    );
  return new FlatDiskSource(fetcher, pieces, capacity, options);
}

class FlatDiskSource implements DiskSource {
  readonly capacity: number;
  readonly #fetcher: ExtentFetcher;
  readonly #pieces: readonly Piece[];
  readonly #o: OpenDiskOptions;

  constructor(fetcher: ExtentFetcher, pieces: readonly Piece[], capacity: number, options: OpenDiskOptions) {
    this.#fetcher = fetcher;
    this.#pieces = pieces;
    this.capacity = capacity;
    this.#o = options;
  }

  async read(target: Uint8Array, offset: number, signal?: AbortSignal): Promise<number> {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > this.capacity)
      throw vsphereError(
        "VSPHERE_INVALID_ARGUMENT",
        `Read at ${offset} is outside the disk (capacity ${this.capacity})`,
      );
    const total = Math.min(target.length, this.capacity - offset);
    const jobs: Promise<void>[] = [];
    for (let done = 0; done < total;) {
      const pos = offset + done;
      const piece = this.#pieces.find((p) => pos >= p.start && pos < p.start + p.length);
      if (piece === undefined)
        throw vsphereError("VSPHERE_READ_FAILED", `No extent covers disk offset ${pos}`);
      const n = Math.min(total - done, piece.start + piece.length - pos, this.#o.maxFetch);
      const into = done;
      if (piece.file === undefined) target.fill(0, into, into + n);
      else {
        const file = piece.file;
        const fileOffset = piece.fileOffset + (pos - piece.start);
        jobs.push(
          this.#o.queue.add(async () => {
            throwIfAborted(signal ?? this.#o.signal, "disk read");
            const bytes = await this.#fetcher.readRange(file, fileOffset, n, signal ?? this.#o.signal);
            target.set(bytes, into);
          }),
        );
      }
      done += n;
    }
    await Promise.all(jobs);
    return total;
  }

  async close(): Promise<void> {
    await this.#fetcher.close();
  }
}
