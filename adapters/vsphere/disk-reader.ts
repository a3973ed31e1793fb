/**
 * The disk as it was at snapshot time, read from the snapshot's read-only flat extent(s): the
 * descriptor is fetched and parsed to find them, then reads become ranged fetches, bounded in
 * concurrency per host by a shared queue. Two fetchers: HTTPS `/folder` with `Range` (here) and SSH
 * (ssh-reader.ts). Every answer is checked for exact length, so a short or misplaced range is an
 * error, never silently wrong data.
 */
import type PQueue from "p-queue";
import { isSnapvisorError } from "../../src/domain/errors.js";
import type { ByteSource, DiskSource } from "../../src/domain/ports.js";
import { openVmdkSource } from "../../src/disk/index.js";
import type { VimClient } from "./client.js";
import { throwIfAborted, vsphereError } from "./errors.js";
import type { HttpsTransport } from "./soap/transport.js";

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

export interface ExtentFetcher {
  /** Size of a datastore file in bytes. */
  size(file: DatastorePath, signal?: AbortSignal): Promise<number>;
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

  async #get(
    file: DatastorePath,
    headers: Record<string, string>,
    maxBytes: number,
    signal?: AbortSignal,
    allow416 = false,
  ) {
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
    if (res.status !== 200 && res.status !== 206 && !(allow416 && res.status === 416)) {
      throw vsphereError("VSPHERE_READ_FAILED", `Reading ${where} over /folder answered HTTP ${res.status}`, {
        retryable: res.status >= 500,
        details: { status: res.status },
      });
    }
    return res;
  }

  /** A one-byte ranged GET: the total is in Content-Range (206), Content-Length (200) or `bytes *\/N` (416). */
  async size(file: DatastorePath, signal?: AbortSignal): Promise<number> {
    const res = await this.#get(file, { Range: "bytes=0-0" }, 1, signal, true);
    const total =
      res.status === 200
        ? Number(res.headers["content-length"])
        : contentRangeTotal(String(res.headers["content-range"] ?? ""));
    if (total === undefined || !Number.isSafeInteger(total) || total < 0) {
      throw vsphereError(
        "VSPHERE_READ_FAILED",
        `Cannot tell the size of [${file.datastore}] ${file.path}: HTTP ${res.status}, Content-Range "${String(res.headers["content-range"] ?? "")}"`,
      );
    }
    return total;
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

/** Total size from `bytes a-b/N` or `bytes *\/N` (pure); undefined when absent or `*`. */
export function contentRangeTotal(header: string): number | undefined {
  const m = /^bytes (?:\d+-\d+|\*)\/(\d+)$/.exec(header.trim());
  return m === null ? undefined : Number(m[1]);
}

export interface OpenDiskOptions {
  readonly queue: PQueue;
  /** Largest single ranged fetch; bigger reads are split and run through the queue. */
  readonly maxFetch: number;
  readonly signal?: AbortSignal | undefined;
}

/** One datastore file as a ByteSource: reads clamp at its end and go through the host's queue. */
export class RemoteByteSource implements ByteSource {
  readonly size: number;
  readonly #fetcher: ExtentFetcher;
  readonly #file: DatastorePath;
  readonly #o: OpenDiskOptions;

  constructor(fetcher: ExtentFetcher, file: DatastorePath, size: number, options: OpenDiskOptions) {
    this.#fetcher = fetcher;
    this.#file = file;
    this.size = size;
    this.#o = options;
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    const sig = signal ?? this.#o.signal;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0)
      throw vsphereError(
        "VSPHERE_INVALID_ARGUMENT",
        `Read of ${length} bytes at ${offset} of [${this.#file.datastore}] ${this.#file.path} is invalid`,
      );
    const total = Math.max(0, Math.min(length, this.size - offset));
    const out = new Uint8Array(total);
    const jobs: Promise<void>[] = [];
    for (let done = 0; done < total; done += this.#o.maxFetch) {
      const at = done;
      const n = Math.min(this.#o.maxFetch, total - done);
      jobs.push(
        this.#o.queue.add(async () => {
          throwIfAborted(sig, "disk read");
          out.set(await this.#fetcher.readRange(this.#file, offset + at, n, sig), at);
        }),
      );
    }
    await Promise.all(jobs);
    return out;
  }

  async close(): Promise<void> {}
}

const DISK_FORMAT_CODES = [
  "VMDK_DELTA_UNSUPPORTED",
  "DISK_FORMAT_UNSUPPORTED",
  "VMDK_DESCRIPTOR_INVALID",
  "VMDK_EXTENT_INVALID",
  "VMDK_SPARSE_INVALID",
];

/**
 * Opens the VMDK whose descriptor is `descriptor` (the snapshot's disk backing) with the shared VMDK
 * code (src/disk/vmdk), every file read as a RemoteByteSource. ESXi deltas of user snapshots are
 * refused there; the refusal becomes VSPHERE_DISK_UNSUPPORTED with the reason kept.
 */
export async function openSnapshotDisk(
  fetcher: ExtentFetcher,
  descriptor: DatastorePath,
  capacity: number,
  options: OpenDiskOptions,
): Promise<DiskSource> {
  const where = `[${descriptor.datastore}] ${descriptor.path}`;
  const openFile = async (path: string, signal?: AbortSignal): Promise<ByteSource> => {
    const file = { datastore: descriptor.datastore, path: path.replace(/^\//, "") };
    return new RemoteByteSource(fetcher, file, await fetcher.size(file, signal), options);
  };
  let disk: DiskSource;
  try {
    const first = await openFile(`/${descriptor.path}`, options.signal);
    disk = await openVmdkSource(first, `/${descriptor.path}`, {
      openFile,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  } catch (err) {
    if (isSnapvisorError(err, ...DISK_FORMAT_CODES)) {
      throw vsphereError("VSPHERE_DISK_UNSUPPORTED", `Cannot read ${where}: ${err.message}`, {
        cause: err,
        details: { diskCode: err.code },
      });
    }
    throw err;
  }
  if (disk.capacity < capacity) {
    await disk.close();
    throw vsphereError(
      "VSPHERE_DISK_UNSUPPORTED",
      `${where} holds ${disk.capacity} bytes, less than the disk capacity ${capacity}`,
    );
  }
  return disk;
}
