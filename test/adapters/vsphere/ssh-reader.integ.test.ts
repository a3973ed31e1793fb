/**
 * The SSH reader against an ssh2 Server peer on loopback that runs the commands it receives with a
 * real POSIX shell over a temporary "/vmfs/volumes", so quoting, dd arithmetic and host-key pinning
 * are exercised end to end.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { ed25519KeyPair } from "../../../simulators/common/ssh-keys.js";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import PQueue from "p-queue";
import ssh2 from "ssh2";
import { openSnapshotDisk } from "../../../adapters/vsphere/disk-reader.js";
import { SshFetcher } from "../../../adapters/vsphere/ssh-reader.js";
import { isSnapvisorError } from "../../../src/domain/errors.js";
import { noopLogger } from "../../../src/domain/ports.js";

const PASSWORD = "esx-root-pw";
const DIR = `vm "one" it's $(x)`;
const CAPACITY = 3 * 1024 * 1024 + 512;
let root: string;
let server: ssh2.Server;
let port: number;
let fingerprint: string;
const flat = randomBytes(CAPACITY);
const commands: string[] = [];
const clients = new Set<ssh2.Connection>();

before(async () => {
  root = await mkdtemp(join(tmpdir(), "snapvisor-ssh-"));
  await mkdir(join(root, "ds1", DIR), { recursive: true });
  await writeFile(join(root, "ds1", DIR, "disk-flat.vmdk"), flat);
  await writeFile(
    join(root, "ds1", DIR, "disk.vmdk"),
    `# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="vmfs"\n\nRW ${CAPACITY / 512} VMFS "disk-flat.vmdk"\n`,
  );
  const hostKey = ed25519KeyPair().private;
  const parsed = ssh2.utils.parseKey(hostKey);
  if (parsed instanceof Error) throw parsed;
  fingerprint = `SHA256:${createHash("sha256").update(parsed.getPublicSSH()).digest("base64").replace(/=+$/, "")}`;
  server = new ssh2.Server({ hostKeys: [hostKey] }, (client) => {
    clients.add(client);
    client.on("close", () => clients.delete(client));
    client.on("authentication", (ctx) => {
      if (ctx.method === "password" && ctx.username === "root" && ctx.password === PASSWORD) ctx.accept();
      else ctx.reject(["password"]);
    });
    client.on("ready", () => {
      client.on("session", (acceptSession) => {
        acceptSession().on("exec", (accept, _reject, info) => {
          commands.push(info.command);
          const stream = accept();
          const child = spawn("sh", ["-c", info.command], { stdio: ["ignore", "pipe", "pipe"] });
          child.stdout.pipe(stream, { end: false });
          child.stderr.pipe(stream.stderr, { end: false });
          child.on("close", (code) => {
            stream.exit(code ?? 1);
            stream.end();
          });
        });
      });
    });
    client.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  for (const c of clients) c.end();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(root, { recursive: true, force: true });
});

function connect(hostKeySha256 = fingerprint, password = PASSWORD) {
  return SshFetcher.connect(
    {
      kind: "ssh",
      host: "127.0.0.1",
      port,
      username: "root",
      password,
      privateKey: undefined,
      hostKeySha256,
      volumesRoot: root,
      readyTimeoutMs: 5000,
    },
    noopLogger,
  );
}

test("the SSH reader reads a snapshot disk byte for byte through stat and dd, quoting hostile paths", async () => {
  const fetcher = await connect();
  const disk = await openSnapshotDisk(fetcher, { datastore: "ds1", path: `${DIR}/disk.vmdk` }, CAPACITY, {
    queue: new PQueue({ concurrency: 3 }),
    maxFetch: 1024 * 1024,
  });
  assert.equal(disk.capacity, CAPACITY);
  const all = new Uint8Array(CAPACITY);
  assert.equal(await disk.read(all, 0), CAPACITY);
  assert.ok(Buffer.from(all).equals(flat));
  const odd = new Uint8Array(1000);
  assert.equal(await disk.read(odd, 777_777), 1000);
  assert.ok(Buffer.from(odd).equals(flat.subarray(777_777, 778_777)));
  await disk.close();
  await fetcher.close();
  assert.ok(commands.some((c) => c.startsWith("dd if=") && c.includes(`'\\''`)));
});

test("the SSH reader refuses a host whose key does not match the pinned SHA-256", async () => {
  await assert.rejects(connect("SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), (e) =>
    isSnapvisorError(e, "VSPHERE_SSH_HOST_KEY_MISMATCH"),
  );
});

test("the SSH reader reports a wrong password as VSPHERE_SSH_FAILED and a missing file as VSPHERE_READ_FAILED", async () => {
  await assert.rejects(connect(fingerprint, "nope"), (e) => isSnapvisorError(e, "VSPHERE_SSH_FAILED"));
  const fetcher = await connect();
  await assert.rejects(fetcher.size({ datastore: "ds1", path: "missing.vmdk" }), (e) =>
    isSnapvisorError(e, "VSPHERE_READ_FAILED"),
  );
  await assert.rejects(
    fetcher.readRange({ datastore: "ds1", path: `${DIR}/disk-flat.vmdk` }, CAPACITY - 100, 1000),
    (e) => isSnapvisorError(e, "VSPHERE_READ_FAILED"),
  );
  await fetcher.close();
});
