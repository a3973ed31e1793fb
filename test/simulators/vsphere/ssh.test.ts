import assert from "node:assert/strict";
import { createHash, generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import ssh2 from "ssh2";
import { ddSummary, parseCommand, splitWords } from "../../../simulators/esxi-ssh/command.js";
import { PASSWORD, scenario, startLab, vmSpec, type Lab } from "./helpers.js";

const { Client, utils } = ssh2;

interface ExecResult {
  readonly stdout: Buffer;
  readonly stderr: string;
  readonly code: number | undefined;
}

function sshExec(
  lab: Lab,
  command: string,
  auth: { password?: string; privateKey?: string },
  user = "root",
): Promise<ExecResult> {
  const ssh = lab.sim.ssh!;
  return new Promise((resolve, reject) => {
    const c = new Client();
    let seenKey = "";
    c.on("ready", () => {
      c.exec(command, (err, ch) => {
        if (err) return reject(err);
        const out: Buffer[] = [];
        let stderr = "";
        let code: number | undefined;
        ch.on("data", (d: Buffer) => out.push(d));
        ch.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        ch.on("exit", (n: number | null) => (code = n ?? undefined));
        ch.on("close", () => {
          c.end();
          assert.equal(seenKey, ssh.hostKeyFingerprint, "the host key is the announced one");
          resolve({ stdout: Buffer.concat(out), stderr, code });
        });
      });
    });
    c.on("error", reject);
    c.connect({
      host: ssh.host,
      port: ssh.port,
      username: user,
      ...auth,
      hostVerifier: (key: Buffer) => {
        seenKey = `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
        return true;
      },
    });
  });
}

describe("ESXi shell command parsing", () => {
  it("splits words with quotes and refuses shell syntax", () => {
    assert.deepEqual(splitWords(`dd if='/vmfs/volumes/ds 1/a b.vmdk' bs=1M`), [
      "dd",
      "if=/vmfs/volumes/ds 1/a b.vmdk",
      "bs=1M",
    ]);
    assert.deepEqual(splitWords(`cat "/a \\"q\\".vmdk"`), ["cat", '/a "q".vmdk']);
    for (const bad of [
      "cat a; rm -rf /",
      "cat $(id)",
      "cat `id`",
      "cat a | nc",
      'cat "$HOME"',
      "cat 'unterminated",
    ]) {
      assert.equal(splitWords(bad), undefined, bad);
    }
  });

  const cases: [string, ReturnType<typeof parseCommand>["ok"], string][] = [
    ["dd if=/x bs=1M skip=2 count=3", true, "dd"],
    ["dd if=/x bs=64k", true, "dd"],
    ["dd if=/x of=/y", false, "of= refused"],
    ["dd bs=1M", false, "no input"],
    ["dd if=/x bs=0", false, "zero block size"],
    ["stat -c %s /x", true, "stat"],
    ["stat /x", false, "other stat forms"],
    ["rm -rf /vmfs", false, "other commands"],
  ];
  for (const [line, ok, why] of cases) {
    it(`parseCommand(${JSON.stringify(line)}) is ${ok ? "accepted" : "refused"} (${why})`, () => {
      assert.equal(parseCommand(line).ok, ok);
    });
  }

  it("reads dd sizes with busybox suffixes and prints its record summary", () => {
    const r = parseCommand("dd if=/x bs=1M skip=2 count=3");
    assert.ok(r.ok && r.command.kind === "dd");
    assert.equal(r.command.blockSize, 1024 * 1024);
    assert.equal(ddSummary(2.5 * 1024 * 1024, 1024 * 1024), "2+1 records in\n2+1 records out\n");
  });
});

describe("ESXi SSH endpoint", () => {
  let lab: Lab;
  const keys = generateKeyPairSync("ec", {
    namedCurve: "prime256v1",
    privateKeyEncoding: { type: "sec1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  const parsed = utils.parseKey(keys.privateKey);
  if (parsed instanceof Error) throw parsed;
  const authorized = `${parsed.type} ${parsed.getPublicSSH().toString("base64")} test@snapvisor`;

  before(async () => {
    lab = await startLab(
      scenario(
        [
          vmSpec("db", {
            power: "off",
            lastShutdown: "guest-shutdown",
            disks: [{ capacity: "2MiB", datastore: "ds1", data: [{ offset: 0, length: "1MiB", seed: 4 }] }],
          }),
          vmSpec("running"),
        ],
        { ssh: { user: "root", password: PASSWORD, authorizedKeys: [authorized] } },
      ),
    );
  });
  after(() => lab.stop());

  const flat = () => readFileSync(join(lab.dir, "ds1", "db", "db-flat.vmdk"));

  it("serves dd reads of extents by block, with busybox's summary on stderr", async () => {
    const r = await sshExec(lab, "dd if=/vmfs/volumes/ds1/db/db-flat.vmdk bs=64k skip=3 count=2", {
      password: PASSWORD,
    });
    assert.equal(r.code, 0);
    assert.ok(r.stdout.equals(flat().subarray(3 * 65536, 5 * 65536)));
    assert.equal(r.stderr, "2+0 records in\n2+0 records out\n");
  });

  it("accepts the 2>/dev/null redirect an SSH reader appends, and then writes nothing on stderr", async () => {
    const r = await sshExec(
      lab,
      "dd if='/vmfs/volumes/ds1/db/db-flat.vmdk' bs=65536 skip=0 count=1 2>/dev/null",
      { password: PASSWORD },
    );
    assert.equal(r.code, 0);
    assert.equal(r.stderr, "");
    assert.ok(r.stdout.equals(flat().subarray(0, 65536)));
    const missing = await sshExec(lab, "stat -c %s '/vmfs/volumes/ds1/db/none' 2>/dev/null", {
      password: PASSWORD,
    });
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, "");
    assert.ok(!parseCommand("cat /x 2>/tmp/log").ok, "other redirections stay refused");
  });

  it("stops dd at the end of the file with a partial record", async () => {
    const r = await sshExec(lab, "dd if='/vmfs/volumes/ds1/db/db-flat.vmdk' bs=768k skip=2 count=5", {
      password: PASSWORD,
    });
    assert.equal(r.stdout.length, 2 * 1024 * 1024 - 2 * 768 * 1024);
    assert.equal(r.stderr, "0+1 records in\n0+1 records out\n");
  });

  it("accepts a public key and serves cat and stat -c %s", async () => {
    const cat = await sshExec(lab, "cat /vmfs/volumes/ds1/db/db.vmdk", { privateKey: keys.privateKey });
    assert.equal(cat.code, 0);
    assert.match(cat.stdout.toString(), /^RW 4096 VMFS "db-flat.vmdk"$/m);
    const st = await sshExec(lab, "stat -c %s /vmfs/volumes/ds1/db/db-flat.vmdk", {
      privateKey: keys.privateKey,
    });
    assert.equal(st.stdout.toString(), `${2 * 1024 * 1024}\n`);
  });

  it("rejects a wrong password", async () => {
    await assert.rejects(sshExec(lab, "cat /x", { password: "wrong" }), /authentication methods failed/);
  });

  it("refuses other commands, shell syntax, missing files and the running disk, with exit codes", async () => {
    const cases: [string, number, RegExp][] = [
      ["rm -rf /vmfs/volumes/ds1", 127, /not found/],
      ["cat /vmfs/volumes/ds1/db/db.vmdk; reboot", 2, /not supported/],
      ["cat /vmfs/volumes/ds1/db/none.vmdk", 1, /No such file/],
      ["cat /etc/shadow", 1, /No such file/],
      ["dd if=/vmfs/volumes/ds1/../../etc/passwd", 1, /No such file/],
      ["dd if=/vmfs/volumes/ds1/running/running-flat.vmdk bs=1M count=1", 1, /Device or resource busy/],
    ];
    for (const [cmd, code, message] of cases) {
      const r = await sshExec(lab, cmd, { password: PASSWORD });
      assert.equal(r.code, code, cmd);
      assert.match(r.stderr, message, cmd);
      assert.equal(r.stdout.length, 0);
    }
  });

  it("drops the connection mid-read when the host becomes unreachable", async () => {
    await lab.control("POST", "/faults", {
      kind: "host-unreachable",
      vm: "db",
      afterBytes: 4096,
      transport: "ssh",
      times: 1,
    });
    const r = await sshExec(lab, "dd if=/vmfs/volumes/ds1/db/db-flat.vmdk bs=64k count=4", {
      password: PASSWORD,
    }).catch((e: Error) => e);
    if (!(r instanceof Error)) {
      assert.equal(r.code, undefined, "no exit status");
      assert.ok(r.stdout.length <= 4096);
    }
  });
});
