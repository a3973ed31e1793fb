/**
 * The ESXi shell over SSH (ssh2 `Server`), for readers that fetch extents with `dd`: password or
 * public-key authentication, exec requests only (no interactive shell, no SFTP), paths under
 * `/vmfs/volumes/<datastore>/`, over the same files as the SOAP simulator.
 */
import { createHash, generateKeyPairSync, timingSafeEqual } from "node:crypto";
import { createReadStream, statSync } from "node:fs";
import type { AddressInfo } from "node:net";
import ssh2 from "ssh2";
import type { Connection, ServerChannel } from "ssh2";
import { simError } from "../vsphere/errors.js";
import { isLockedByRunningVm, resolveDatastoreFile } from "../vsphere/folder-http.js";
import type { VsphereModel } from "../vsphere/model.js";
import { ddSummary, parseCommand } from "./command.js";

const { Server, utils } = ssh2;

export interface EsxiSshOptions {
  readonly user: string;
  readonly password?: string | undefined;
  /** OpenSSH public keys ("ssh-ed25519 AAAA..."). */
  readonly authorizedKeys?: readonly string[] | undefined;
  /** PEM host key (RSA, ECDSA SEC1 or OpenSSH); generated when omitted. */
  readonly hostKey?: string | undefined;
}

export interface EsxiSshEndpoint {
  readonly host: string;
  readonly port: number;
  /** `SHA256:<base64>` of the host key, as `ssh-keygen -lf` prints it. */
  readonly hostKeyFingerprint: string;
  /** The host key in OpenSSH public form, for known_hosts. */
  readonly hostPublicKey: string;
  stop(): Promise<void>;
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** `/vmfs/volumes/<ds>/<path>` to a file of the model (first datacenter holding that datastore). */
function locate(model: VsphereModel, path: string) {
  const m = /^\/vmfs\/volumes\/([^/]+)\/(.+)$/.exec(path);
  if (!m) return undefined;
  const ds = model.datastores.find((d) => d.name === m[1]);
  return ds ? resolveDatastoreFile(model, ds.datacenter.name, ds.name, m[2]!) : undefined;
}

function run(model: VsphereModel, client: Connection, line: string, ch: ServerChannel): void {
  const parsed = parseCommand(line);
  const quiet = parsed.ok && parsed.command.quiet;
  const done = (code: number, err = "") => {
    if (err && !quiet) ch.stderr.write(err);
    ch.exit(code);
    ch.end();
  };
  if (!parsed.ok) return done(parsed.exitCode, parsed.message);
  const c = parsed.command;
  const prog = c.kind === "stat-size" ? "stat" : c.kind;
  const target = locate(model, c.path);
  let size: number;
  try {
    if (!target) throw new Error("outside /vmfs/volumes");
    const st = statSync(target.absolute);
    if (!st.isFile()) return done(1, `${prog}: can't open '${c.path}': Is a directory\n`);
    size = st.size;
  } catch {
    return done(1, `${prog}: can't open '${c.path}': No such file or directory\n`);
  }
  if (c.kind === "stat-size") {
    ch.write(`${size}\n`);
    return done(0);
  }
  if (isLockedByRunningVm(model, target.vmName, target.absolute)) {
    return done(1, `${prog}: can't open '${c.path}': Device or resource busy\n`);
  }
  let start = 0;
  let end = size; // exclusive
  if (c.kind === "dd") {
    start = Math.min(size, c.skip * c.blockSize);
    end = c.count === undefined ? size : Math.min(size, start + c.count * c.blockSize);
  }
  const total = end - start;
  if (total === 0) return done(0, c.kind === "dd" ? ddSummary(0, c.blockSize) : "");
  const cut = model.faults.take(
    "host-unreachable",
    (r) => r.transport !== "http" && (r.vm === undefined || r.vm === target.vmName),
  );
  let budget = cut ? cut.afterBytes : Infinity;
  const stream = createReadStream(target.absolute, { start, end: end - 1, highWaterMark: 1024 * 1024 });
  stream.on("data", (data: string | Buffer) => {
    const chunk = typeof data === "string" ? Buffer.from(data) : data;
    if (chunk.length >= budget) {
      if (budget > 0) ch.write(chunk.subarray(0, budget));
      budget = 0;
      stream.destroy();
      // The host is gone: the connection drops without an exit status.
      client.end();
      return;
    }
    budget -= chunk.length;
    if (!ch.write(chunk)) {
      stream.pause();
      ch.once("drain", () => stream.resume());
    }
  });
  stream.on("end", () => done(0, c.kind === "dd" ? ddSummary(total, c.blockSize) : ""));
  stream.on("error", (err) => done(1, `${prog}: read error: ${err.message}\n`));
  ch.on("close", () => stream.destroy());
}

export async function startEsxiSsh(model: VsphereModel, options: EsxiSshOptions): Promise<EsxiSshEndpoint> {
  const hostKey =
    options.hostKey ??
    generateKeyPairSync("ec", {
      namedCurve: "prime256v1",
      privateKeyEncoding: { type: "sec1", format: "pem" },
      publicKeyEncoding: { type: "spki", format: "pem" },
    }).privateKey;
  const parsedHost = utils.parseKey(hostKey);
  if (parsedHost instanceof Error)
    throw simError("VSIM_SSH_KEY", `Cannot use the SSH host key: ${parsedHost.message}`, {
      cause: parsedHost,
    });
  const hostPub = parsedHost;
  const keys = (options.authorizedKeys ?? []).map((k) => {
    const p = utils.parseKey(k);
    if (p instanceof Error)
      throw simError("VSIM_SSH_KEY", `Cannot parse authorized key ${k.slice(0, 40)}...: ${p.message}`, {
        cause: p,
      });
    return p;
  });
  const clients = new Set<Connection>();
  const server = new Server({ hostKeys: [hostKey] }, (client) => {
    clients.add(client);
    client.on("close", () => clients.delete(client));
    client.on("error", () => {});
    client.on("authentication", (ctx) => {
      if (ctx.username === options.user) {
        if (
          ctx.method === "password" &&
          options.password !== undefined &&
          equal(ctx.password, options.password)
        )
          return ctx.accept();
        if (ctx.method === "publickey") {
          const key = keys.find((k) => k.type === ctx.key.algo && k.getPublicSSH().equals(ctx.key.data));
          if (key) {
            if (!ctx.signature || !ctx.blob) return ctx.accept(); // key query: "would this key do?"
            if (key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true) return ctx.accept();
          }
        }
      }
      ctx.reject(["password", "publickey"]);
    });
    client.on("ready", () => {
      client.on("session", (accept) => {
        const session = accept();
        session.on("exec", (acceptExec, _reject, info) => run(model, client, info.command, acceptExec()));
        session.on("shell", (_a, reject) => reject());
        session.on("subsystem", (_a, reject) => reject());
        session.on("pty", (_a, reject) => reject?.());
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const blob = hostPub.getPublicSSH();
  return {
    host: "127.0.0.1",
    port,
    hostKeyFingerprint: `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`,
    hostPublicKey: `${hostPub.type} ${blob.toString("base64")}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Live client connections keep the server open: end them.
        for (const c of clients) c.end();
      }),
  };
}
