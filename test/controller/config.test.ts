import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  loadConfig,
  parseConfig,
  resolveSecret,
  retentionPolicy,
  validateConfig,
} from "../../src/controller/config.js";
import { isSnapvisorError } from "../../src/domain/errors.js";

const HOST_KEY = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";

/** A small valid document; each bad case below changes one thing in a copy of it. */
function base(): Record<string, unknown> {
  return {
    vsphere: [
      { name: "vc1", url: "https://vc1.example/sdk", user: "backup", password: { env: "VC1_PASSWORD" } },
    ],
    hyperv: {
      hosts: [{ name: "hv1", transport: "local" }],
      clusters: [
        {
          name: "c1",
          nodes: [
            {
              name: "n1",
              transport: { ssh: { host: "n1.example", user: "svc", keyFile: "/k", hostKey: HOST_KEY } },
            },
          ],
        },
      ],
    },
    repository: { path: "/repo" },
    protectionGroups: [
      { name: "g0", source: "vc1", vms: [{ name: "a" }] },
      {
        name: "g1",
        source: "hv1",
        vms: [{ pattern: "web-*" }],
        policy: { consistency: "prefer-application" },
      },
    ],
  };
}

const DELETE = Symbol("delete");
type Path = readonly (string | number)[];

/** A copy of the base document with the value at `path` replaced (or deleted). */
function edit(path: Path, value: unknown): unknown {
  const d = structuredClone(base());
  let node = d as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path[path.length - 1] ?? "";
  if (value === DELETE) delete node[last];
  else node[last] = value;
  return d;
}

function issuesOf(document: unknown): string[] {
  try {
    validateConfig(document);
  } catch (err) {
    assert.ok(isSnapvisorError(err, "CONFIG_INVALID"), String(err));
    return err.details.issues as string[];
  }
  assert.fail("expected CONFIG_INVALID");
}

describe("validateConfig()", () => {
  it("applies defaults and freezes the result", () => {
    const c = validateConfig(base());
    assert.deepEqual(c.limits, {
      global: 4,
      perHost: 2,
      perDatastore: 2,
      perCsv: 2,
      openSnapshotsPerDatastore: 4,
    });
    const g0 = c.protectionGroups[0];
    assert.equal(g0?.policy.consistency, "prefer-application");
    assert.equal(g0?.policy.quiesceAttempts, 3);
    assert.equal(g0?.policy.schedule.kind, "manual");
    assert.equal(g0?.sharedDisks, "all");
    assert.deepEqual(c.vsphere[0]?.tls, { insecure: false });
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.protectionGroups) && Object.isFrozen(g0?.policy));
    assert.throws(() => (c.limits as { global: number }).global++, TypeError);
  });

  it("normalizes a TLS thumbprint to upper-case colon pairs", () => {
    const c = validateConfig(edit(["vsphere", 0, "tls"], { thumbprint: "aa".repeat(20) }));
    assert.equal(c.vsphere[0]?.tls.thumbprint, Array(20).fill("AA").join(":"));
  });

  // [what is wrong, change, the issue line expected]
  // prettier-ignore
  const bad: [string, Path, unknown, string][] = [
    ["an unknown consistency policy", ["protectionGroups", 1, "policy", "consistency"], "always", 'protectionGroups[1].policy.consistency: expected one of require-application|prefer-application|crash-only, got "always"'],
    ["an inline password", ["vsphere", 0, "password"], "hunter2", "vsphere[0].password: expected { env: NAME } or { file: PATH } (secrets are never written in the config itself), got (hidden)"],
    ["a plain-http vCenter URL", ["vsphere", 0, "url"], "http://vc1.example/sdk", 'vsphere[0].url: expected an https:// URL of a vCenter or ESXi host, got "http://vc1.example/sdk"'],
    ["insecure TLS combined with a thumbprint", ["vsphere", 0, "tls"], { insecure: true, thumbprint: "ab".repeat(32) }, "vsphere[0].tls: insecure: true cannot be combined with thumbprint or caFile"],
    ["a malformed thumbprint", ["vsphere", 0, "tls"], { thumbprint: "12:34" }, 'vsphere[0].tls.thumbprint: expected a SHA-1 or SHA-256 fingerprint in hex, got "12:34"'],
    ["an SSH node without a pinned host key", ["hyperv", "clusters", 0, "nodes", 0, "transport", "ssh", "hostKey"], DELETE, "hyperv.clusters[0].nodes[0].transport"],
    ["a host key that is not a fingerprint", ["hyperv", "clusters", 0, "nodes", 0, "transport", "ssh", "hostKey"], "ssh-ed25519 AAAA", 'hyperv.clusters[0].nodes[0].transport.ssh.hostKey: expected an OpenSSH fingerprint like SHA256:<43 base64 characters>, got "ssh-ed25519 AAAA"'],
    ["a missing repository", ["repository"], DELETE, "repository: required (object)"],
    ["a group whose source is not configured", ["protectionGroups", 0, "source"], "vc9", 'protectionGroups[0].source: expected one of vc1|hv1|c1, got "vc9"'],
    ["two endpoints with one name", ["hyperv", "hosts", 0, "name"], "vc1", 'hyperv.hosts[0].name: name already used by vsphere.0.name, got "vc1"'],
    ["two groups with one name", ["protectionGroups", 1, "name"], "g0", 'protectionGroups[1].name: group name already used, got "g0"'],
    ["a group without VMs", ["protectionGroups", 0, "vms"], [], "protectionGroups[0].vms: expected at least 1 item(s), got a list"],
    ["a VM selector of an unknown kind", ["protectionGroups", 0, "vms"], [{ regex: "a.*" }], "protectionGroups[0].vms[0]: expected { name: NAME }, { pattern: GLOB } or { id: ID }, got an object"],
    ["a bad schedule", ["protectionGroups", 0, "policy"], { schedule: "hourly" }, 'protectionGroups[0].policy.schedule: Invalid schedule "hourly": expected "manual", "every", "daily" or "weekly", got "hourly", got "hourly"'],
    ["an unknown time zone", ["protectionGroups", 0, "policy"], { timeZone: "Europe/Atlantis" }, 'protectionGroups[0].policy.timeZone: expected an IANA time zone like UTC or Europe/Paris, got "Europe/Atlantis"'],
    ["a retention that keeps nothing", ["protectionGroups", 0, "policy"], { retention: { daily: 0 } }, "protectionGroups[0].policy.retention: keeps nothing"],
    ["zero quiesce attempts", ["protectionGroups", 0, "policy"], { quiesceAttempts: 0 }, "protectionGroups[0].policy.quiesceAttempts: Too small: expected number to be >=1, got 0"],
    ["a fractional limit", ["limits"], { perHost: 1.5 }, "limits.perHost: expected int, got 1.5"],
    ["an unknown key (typo)", ["limits"], { perDatastores: 2 }, 'limits: unknown key "perDatastores"'],
    ["an environment variable name with a space", ["repository", "passphrase"], { env: "MY PASS" }, "repository.passphrase"],
  ];
  for (const [label, path, value, want] of bad) {
    it(`rejects ${label}`, () => {
      const issues = issuesOf(edit(path, value));
      assert.ok(
        issues.some((i) => i.startsWith(want)),
        `wanted an issue starting with:\n  ${want}\ngot:\n  ${issues.join("\n  ")}`,
      );
    });
  }

  it("never echoes a secret's value, wherever it sits", () => {
    const issues = issuesOf(edit(["repository", "passphrase"], "correct horse battery staple"));
    assert.ok(!issues.join("\n").includes("correct horse"), issues.join("\n"));
  });

  it("reports every issue at once", () => {
    const document = edit(["limits"], { global: 0 }) as { protectionGroups: { policy?: unknown }[] };
    const group = document.protectionGroups[0];
    if (group) group.policy = { consistency: "always" };
    const issues = issuesOf(document);
    assert.equal(issues.length, 2, issues.join("\n"));
  });
});

describe("parseConfig() and loadConfig()", () => {
  it("loads the example config of the docs", async () => {
    const c = await loadConfig("fixtures/config/example.yaml");
    assert.deepEqual(
      c.protectionGroups.map((g) => [g.name, g.policy.consistency, g.policy.schedule.kind]),
      [
        ["sql", "require-application", "every"],
        ["web", "prefer-application", "daily"],
        ["file-cluster", "prefer-application", "weekly"],
        ["lab-scratch", "crash-only", "manual"],
      ],
    );
    assert.equal(
      c.hyperv.clusters[0]?.nodes[1]?.transport !== "local" &&
        c.hyperv.clusters[0]?.nodes[1]?.transport.ssh.port,
      2222,
    );
  });

  it("maps a group's retention onto the domain's retention policy", async () => {
    const c = await loadConfig("fixtures/config/example.yaml");
    const sql = c.protectionGroups[0];
    assert.ok(sql);
    assert.deepEqual(retentionPolicy(sql), {
      keepLast: 6,
      keepDaily: 14,
      keepWeekly: 8,
      keepMonthly: 12,
      keepYearly: 0,
    });
  });

  it("reads JSON with the JSON parser", () => {
    const c = parseConfig(JSON.stringify(base()), { format: "json" });
    assert.equal(c.protectionGroups.length, 2);
  });

  it("names the line of a YAML syntax error", () => {
    assert.throws(
      () =>
        parseConfig("repository:\n  path: /r\nrepository:\n  path: /s\n", { source: 'config file "x.yaml"' }),
      (err) =>
        isSnapvisorError(err, "CONFIG_UNREADABLE") &&
        /Cannot parse config file "x.yaml" at line 3: Map keys must be unique/.test(err.message),
    );
  });

  it("names the file that cannot be read", async () => {
    await assert.rejects(
      loadConfig("fixtures/config/no-such.yaml"),
      (err) =>
        isSnapvisorError(err, "CONFIG_UNREADABLE") && err.message.includes('"fixtures/config/no-such.yaml"'),
    );
  });
});

describe("resolveSecret()", () => {
  const sources = (files: Record<string, string>) => ({
    env: { SET: "from-env", EMPTY: "" },
    readFile: async (p: string) => {
      const v = files[p];
      if (v === undefined) throw new Error(`ENOENT: no such file '${p}'`);
      return v;
    },
  });

  it("reads an environment variable", async () => {
    assert.equal(await resolveSecret({ env: "SET" }, sources({}), "password of vc1"), "from-env");
  });

  it("reads a file and drops its trailing newline", async () => {
    assert.equal(
      await resolveSecret({ file: "/p" }, sources({ "/p": "s3cret\n" }), "password of vc1"),
      "s3cret",
    );
  });

  // prettier-ignore
  const bad: [string, { env: string } | { file: string }, string][] = [
    ["an unset variable", { env: "UNSET" }, "Cannot read password of vc1: environment variable UNSET is not set"],
    ["an empty variable", { env: "EMPTY" }, "Cannot use password of vc1: the secret is empty"],
    ["a missing file", { file: "/none" }, 'Cannot read password of vc1 from file "/none": ENOENT'],
  ];
  for (const [label, ref, want] of bad) {
    it(`fails clearly on ${label}`, async () => {
      await assert.rejects(
        resolveSecret(ref, sources({}), "password of vc1"),
        (err) => isSnapvisorError(err, "SECRET_UNAVAILABLE") && err.message.startsWith(want),
      );
    });
  }
});
