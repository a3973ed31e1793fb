/**
 * One node's Windows OpenSSH, as the adapter sees it: password authentication, `exec` of
 * `powershell ... -Command -` with the script on stdin, and the `sftp` subsystem serving the node's
 * volumes read-only under `/C:/...` paths. A node marked Down refuses connections.
 */
import { createHash } from "node:crypto";
import { open, type FileHandle } from "node:fs/promises";
import { timingSafeEqual } from "node:crypto";
import ssh2 from "ssh2";
import type { Connection, ServerChannel, SFTPWrapper } from "ssh2";
import { ed25519KeyPair } from "../common/ssh-keys.js";
import { hostFile } from "./disks.js";
import { vmMatches } from "./faults.js";
import type { HypervModel } from "./model.js";
import type { PsGrammar } from "./ps/grammar.js";
import { PsSession } from "./session.js";

const { Server, utils } = ssh2;
const { STATUS_CODE, OPEN_MODE } = utils.sftp;

export interface SshCredentials {
  readonly username: string;
  readonly password: string;
  /** OpenSSH public keys (`ssh-ed25519 AAAA...`) accepted for the user, as authorized_keys does. */
  readonly authorizedKeys?: readonly string[];
}

export interface SshEndpoint {
  readonly host: string;
  readonly port: number;
  /** "SHA256:<base64>" of the host key, as `ssh-keygen -l` prints it. */
  readonly hostKeyFingerprint: string;
}

const POWERSHELL =
  /^powershell(?:\.exe)?(?:\s+-(?:NoLogo|NoProfile|NonInteractive|ExecutionPolicy\s+\w+))*\s+-Command\s+-\s*$/i;

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class NodeSshServer {
  readonly #server: InstanceType<typeof Server>;
  readonly #clients = new Set<Connection>();
  endpoint!: SshEndpoint;

  constructor(
    readonly nodeName: string,
    readonly model: HypervModel,
    readonly grammar: PsGrammar,
    readonly credentials: SshCredentials,
  ) {
    const key = ed25519KeyPair();
    const parsed = utils.parseKey(key.private);
    if (parsed instanceof Error) throw parsed;
    const blob = parsed.getPublicSSH();
    this.#fingerprint = "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
    this.#server = new Server({ hostKeys: [key.private] }, (client) => this.#onClient(client));
  }

  readonly #fingerprint: string;

  async listen(): Promise<SshEndpoint> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    const addr = this.#server.address();
    if (addr === null || typeof addr === "string") throw new Error("ssh server has no TCP address");
    this.endpoint = { host: "127.0.0.1", port: addr.port, hostKeyFingerprint: this.#fingerprint };
    return this.endpoint;
  }

  #onClient(client: Connection): void {
    if (this.model.node(this.nodeName)?.state === "Down") {
      client.end();
      return;
    }
    this.#clients.add(client);
    client.on("close", () => this.#clients.delete(client));
    client.on("error", () => client.end());
    client.on("authentication", (ctx) => {
      const user = equal(ctx.username, this.credentials.username);
      if (ctx.method === "password" && user && equal(ctx.password, this.credentials.password)) {
        ctx.accept();
        return;
      }
      if (ctx.method === "publickey" && user) {
        // Windows OpenSSH checks the offered key against authorized_keys, then its signature.
        const key = (this.credentials.authorizedKeys ?? [])
          .map((k) => ssh2.utils.parseKey(k))
          .find(
            (k): k is ssh2.ParsedKey =>
              !(k instanceof Error) && k.type === ctx.key.algo && k.getPublicSSH().equals(ctx.key.data),
          );
        if (key && (!ctx.signature || (ctx.blob && key.verify(ctx.blob, ctx.signature, ctx.hashAlgo)))) {
          ctx.accept();
          return;
        }
      }
      ctx.reject(this.credentials.authorizedKeys?.length ? ["publickey", "password"] : ["password"]);
    });
    client.on("ready", () => {
      client.on("session", (acceptSession) => {
        const session = acceptSession();
        session.on("exec", (accept, reject, info) => {
          if (!POWERSHELL.test(info.command.trim())) {
            reject();
            return;
          }
          this.#runPowerShell(accept());
        });
        session.on("sftp", (accept) => this.#serveSftp(accept()));
      });
    });
  }

  #runPowerShell(channel: ServerChannel): void {
    const ps = new PsSession(this.grammar, this.model, this.nodeName, {
      stdout: (t) => channel.write(t),
      stderr: (t) => channel.stderr.write(t),
    });
    channel.setEncoding("utf8");
    channel.on("data", (chunk: string) => void ps.feed(chunk));
    channel.on("end", () => {
      void ps.end().then(() => {
        channel.exit(0);
        channel.end();
      });
    });
    channel.on("close", () => ps.close());
  }

  #serveSftp(sftp: SFTPWrapper): void {
    const handles = new Map<number, FileHandle>();
    /** Per handle: the Windows path opened and the bytes served, for the read-failure rule. */
    const served = new Map<number, { path: string; bytes: number }>();
    let next = 1;
    const handleOf = (buf: Buffer): FileHandle | undefined => handles.get(buf.readUInt32BE(0));
    const local = (path: string): string => {
      // `/C:/ClusterStorage/Volume1/x.vhdx` -> the simulator's file for C:\ClusterStorage\Volume1\x.vhdx
      const m = /^\/?([A-Za-z]):\/(.*)$/.exec(path);
      if (!m?.[1]) throw new Error(`not a drive path: ${path}`);
      return hostFile(this.model.root, `${m[1]}:\\${(m[2] ?? "").replace(/\//g, "\\")}`);
    };
    sftp.on("OPEN", (reqId, filename, flags) => {
      if (flags & (OPEN_MODE.WRITE | OPEN_MODE.CREAT | OPEN_MODE.TRUNC | OPEN_MODE.APPEND)) {
        sftp.status(reqId, STATUS_CODE.PERMISSION_DENIED, "read-only volume");
        return;
      }
      let file: string;
      let windowsPath: string;
      try {
        file = local(filename);
        windowsPath = filename.replace(/^\//, "").replace(/\//g, "\\");
      } catch {
        sftp.status(reqId, STATUS_CODE.NO_SUCH_FILE, "No such file");
        return;
      }
      open(file, "r").then(
        (fh) => {
          const id = next++;
          handles.set(id, fh);
          served.set(id, { path: windowsPath, bytes: 0 });
          const h = Buffer.alloc(4);
          h.writeUInt32BE(id, 0);
          sftp.handle(reqId, h);
        },
        () => sftp.status(reqId, STATUS_CODE.NO_SUCH_FILE, "No such file"),
      );
    });
    sftp.on("READ", (reqId, handle, offset, length) => {
      const fh = handleOf(handle);
      if (!fh) return void sftp.status(reqId, STATUS_CODE.FAILURE, "bad handle");
      const count = served.get(handle.readUInt32BE(0));
      if (count && this.#readFails(count.path, count.bytes)) {
        return void sftp.status(
          reqId,
          STATUS_CODE.FAILURE,
          `The request could not be performed because of an I/O device error. (${count.path})`,
        );
      }
      const buf = Buffer.alloc(length);
      fh.read(buf, 0, length, offset).then(
        ({ bytesRead }) => {
          if (count) count.bytes += bytesRead;
          if (bytesRead === 0) sftp.status(reqId, STATUS_CODE.EOF);
          else sftp.data(reqId, buf.subarray(0, bytesRead));
        },
        () => sftp.status(reqId, STATUS_CODE.FAILURE, "read failed"),
      );
    });
    sftp.on("FSTAT", (reqId, handle) => {
      const fh = handleOf(handle);
      if (!fh) return void sftp.status(reqId, STATUS_CODE.FAILURE, "bad handle");
      fh.stat().then(
        (st) =>
          sftp.attrs(reqId, {
            mode: st.mode,
            uid: 0,
            gid: 0,
            size: st.size,
            atime: Math.floor(st.atimeMs / 1000),
            mtime: Math.floor(st.mtimeMs / 1000),
          }),
        () => sftp.status(reqId, STATUS_CODE.FAILURE, "stat failed"),
      );
    });
    sftp.on("CLOSE", (reqId, handle) => {
      const id = handle.readUInt32BE(0);
      const fh = handles.get(id);
      handles.delete(id);
      served.delete(id);
      void (fh?.close() ?? Promise.resolve()).then(() => sftp.status(reqId, STATUS_CODE.OK));
    });
    sftp.on("close", () => {
      for (const fh of handles.values()) void fh.close();
      handles.clear();
    });
  }

  /** Whether a `read-failure` rule hits this read (consuming one use when it does). */
  #readFails(windowsPath: string, servedBytes: number): boolean {
    const disk = this.model.diskOfFile(windowsPath);
    if (!disk) return false;
    const owners = this.model.vms.filter((v) => v.drives.some((d) => d.disk === disk)).map((v) => v.name);
    return (
      this.model.faults.take("read-failure", (r) => {
        if (servedBytes < r.afterBytes) return false;
        if (r.disk !== undefined && this.model.diskOfFile(r.disk) !== disk) return false;
        return r.vm === undefined || owners.some((n) => vmMatches(r, n));
      }) !== undefined
    );
  }

  async close(): Promise<void> {
    for (const c of this.#clients) c.end();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
