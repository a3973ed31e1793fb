/**
 * Datastore file access over HTTPS, as hostd/vpxd serve it: `GET /folder/<path>?dcPath=<dc>&dsName=<ds>`
 * with Range (206 + Content-Range, 416 when unsatisfiable), authenticated by the SOAP session cookie or
 * HTTP Basic. The running disk of a powered-on VM is locked by its VMX, so reading it fails; the
 * read-only parents of its snapshots can be read.
 */
import { createReadStream, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { resolve, sep } from "node:path";
import type { VsphereModel } from "./model.js";
import { decideRange } from "./range.js";
import type { SoapEndpoint } from "./soap-server.js";

export interface FileTarget {
  readonly absolute: string;
  /** The VM owning the folder the file is in, if any (first path segment). */
  readonly vmName: string | undefined;
}

/** Maps a datastore-relative path to a file, refusing escapes from the datastore folder. */
export function resolveDatastoreFile(
  model: VsphereModel,
  dcName: string,
  dsName: string,
  relative: string,
): FileTarget | undefined {
  const ds = model.datastores.find((d) => d.name === dsName && d.datacenter.name === dcName);
  if (!ds) return undefined;
  if (relative.includes("\0")) return undefined;
  const absolute = resolve(ds.root, relative);
  if (!absolute.startsWith(ds.root + sep)) return undefined;
  const first = relative.split("/").filter(Boolean)[0];
  return { absolute, vmName: model.vms.find((v) => v.vmDir === first)?.name };
}

/** True when `absolute` is the extent a running VM writes to (locked on a real host). */
export function isLockedByRunningVm(
  model: VsphereModel,
  vmName: string | undefined,
  absolute: string,
): boolean {
  const vm = vmName === undefined ? undefined : model.vmByName(vmName);
  if (!vm || vm.power !== "poweredOn") return false;
  return vm.disks.some((d) => d.top.layer.path === absolute);
}

function authorized(model: VsphereModel, soap: SoapEndpoint, req: IncomingMessage): boolean {
  if (soap.session(req.headers.cookie)) return true;
  const auth = req.headers.authorization;
  if (auth?.startsWith("Basic ")) {
    const [u, ...p] = Buffer.from(auth.slice(6), "base64").toString("utf8").split(":");
    return u === model.scenario.credentials.user && p.join(":") === model.scenario.credentials.password;
  }
  return false;
}

export function handleFolder(
  model: VsphereModel,
  soap: SoapEndpoint,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): void {
  const text = (status: number, body: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", ...headers });
    res.end(req.method === "HEAD" ? undefined : body);
  };
  if (req.method !== "GET" && req.method !== "HEAD")
    return text(405, "Method not allowed\n", { Allow: "GET, HEAD" });
  if (!authorized(model, soap, req))
    return text(401, "Unauthorized\n", { "WWW-Authenticate": 'Basic realm="VMware HTTP server"' });
  const dcPath = url.searchParams.get("dcPath");
  const dsName = url.searchParams.get("dsName");
  let relative: string;
  try {
    relative = decodeURIComponent(url.pathname.slice("/folder/".length));
  } catch {
    return text(400, "Bad path encoding\n");
  }
  if (!dcPath || !dsName) return text(404, "dcPath and dsName are required\n");
  const target = resolveDatastoreFile(model, dcPath, dsName, relative);
  if (!target) return text(404, "Not Found\n");
  let size: number;
  try {
    const st = statSync(target.absolute);
    if (!st.isFile()) return text(404, "Not Found\n");
    size = st.size;
  } catch {
    return text(404, "Not Found\n");
  }
  if (isLockedByRunningVm(model, target.vmName, target.absolute)) {
    return text(
      500,
      `Cannot open ${relative}: the file is locked by the running virtual machine (Device or resource busy)\n`,
    );
  }
  const range = decideRange(req.headers.range, size);
  if (range.kind === "unsatisfiable")
    return text(416, "Requested Range Not Satisfiable\n", { "Content-Range": `bytes */${size}` });
  const start = range.kind === "partial" ? range.start : 0;
  const end = range.kind === "partial" ? range.end : size - 1;
  const headers: Record<string, string> = {
    "Content-Type": "application/octet-stream",
    "Accept-Ranges": "bytes",
    "Content-Length": String(end - start + 1),
  };
  if (range.kind === "partial") headers["Content-Range"] = `bytes ${start}-${end}/${size}`;
  res.writeHead(range.kind === "partial" ? 206 : 200, headers);
  if (req.method === "HEAD" || size === 0) {
    res.end();
    return;
  }
  const cut = model.faults.take(
    "host-unreachable",
    (r) => r.transport !== "ssh" && (r.vm === undefined || r.vm === target.vmName),
  );
  let budget = cut ? cut.afterBytes : Infinity;
  const stream = createReadStream(target.absolute, { start, end, highWaterMark: 1024 * 1024 });
  stream.on("data", (data: string | Buffer) => {
    const chunk = typeof data === "string" ? Buffer.from(data) : data;
    if (chunk.length >= budget) {
      // The host went away mid-body: what was sent stays sent, then the connection drops.
      if (budget > 0) res.write(chunk.subarray(0, budget));
      budget = 0;
      stream.destroy();
      res.socket?.destroy();
      return;
    }
    budget -= chunk.length;
    if (!res.write(chunk)) {
      stream.pause();
      res.once("drain", () => stream.resume());
    }
  });
  stream.on("end", () => res.end());
  stream.on("error", () => res.socket?.destroy());
  res.on("close", () => stream.destroy());
}
