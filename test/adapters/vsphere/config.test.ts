import { test } from "node:test";
import assert from "node:assert/strict";
import { describeConfig, resolveConfig } from "../../../adapters/vsphere/config.js";
import { decideRetry } from "../../../adapters/vsphere/client.js";
import { pollDelay } from "../../../adapters/vsphere/waiters.js";
import { vsphereError } from "../../../adapters/vsphere/errors.js";
import { isSnapvisorError } from "../../../src/domain/errors.js";

const deps = (env: Record<string, string> = {}, files: Record<string, string> = {}) => ({
  env,
  readFile: (p: string) => {
    const f = files[p];
    if (f === undefined) throw new Error(`no file ${p}`);
    return f;
  },
});
const base = { url: "https://vc.example.com/sdk", username: "backup@vsphere.local" };
const FP = "AB:".repeat(31) + "AB";

test("resolveConfig() verifies TLS by default and reads the password from the named environment variable", () => {
  const c = resolveConfig({ ...base, passwordEnv: "VC_PW" }, deps({ VC_PW: "s3cret" }));
  assert.equal(c.password, "s3cret");
  assert.deepEqual(c.tlsPolicy, { mode: "verify", ca: undefined });
  assert.equal(c.maxAttempts, 3);
  assert.ok(Object.isFrozen(c));
  assert.equal(JSON.stringify(describeConfig(c)).includes("s3cret"), false);
});

test("resolveConfig() accepts a pinned thumbprint with or without colons, or a CA file", () => {
  assert.deepEqual(resolveConfig({ ...base, password: "p", tls: { thumbprint: FP } }, deps()).tlsPolicy, {
    mode: "pinned",
    fingerprint: "ab".repeat(32),
  });
  assert.deepEqual(
    resolveConfig({ ...base, password: "p", tls: { thumbprint: "CD:".repeat(19) + "CD" } }, deps()).tlsPolicy,
    { mode: "pinned", fingerprint: "cd".repeat(20) },
  );
  assert.deepEqual(
    resolveConfig({ ...base, password: "p", tls: { caFile: "/ca.pem" } }, deps({}, { "/ca.pem": "PEM" }))
      .tlsPolicy,
    { mode: "verify", ca: "PEM" },
  );
  assert.deepEqual(resolveConfig({ ...base, password: "p", tls: { insecure: true } }, deps()).tlsPolicy, {
    mode: "insecure",
  });
});

const invalid: [string, unknown, Record<string, string>][] = [
  ["no password", { ...base }, {}],
  ["an unset password variable", { ...base, passwordEnv: "NOPE" }, {}],
  ["plain http", { ...base, url: "http://vc/sdk", password: "p" }, {}],
  ["two TLS modes", { ...base, password: "p", tls: { insecure: true, thumbprint: FP } }, {}],
  ["a short thumbprint", { ...base, password: "p", tls: { thumbprint: "AB:CD" } }, {}],
  ["an SSH reader without host key", { ...base, password: "p", reader: { kind: "ssh", password: "x" } }, {}],
  [
    "an SSH reader without credentials",
    { ...base, password: "p", reader: { kind: "ssh", hostKeySha256: "SHA256:x" } },
    {},
  ],
];
for (const [name, input, env] of invalid) {
  test(`resolveConfig() refuses ${name} with VSPHERE_CONFIG_INVALID`, () => {
    assert.throws(
      () => resolveConfig(input, deps(env)),
      (e) => isSnapvisorError(e, "VSPHERE_CONFIG_INVALID"),
    );
  });
}

test("decideRetry() repeats server refusals for any method, network failures only for idempotent calls", () => {
  const busy = vsphereError("VSPHERE_TASK_IN_PROGRESS", "busy", { retryable: true });
  const net = vsphereError("VSPHERE_UNREACHABLE", "reset", { retryable: true });
  const login = vsphereError("VSPHERE_INVALID_LOGIN", "no");
  assert.deepEqual(decideRetry(busy, "CreateSnapshot_Task", 1, 3), { retry: true, delayMs: 500 });
  assert.deepEqual(decideRetry(busy, "CreateSnapshot_Task", 2, 3), { retry: true, delayMs: 1000 });
  assert.equal(decideRetry(busy, "CreateSnapshot_Task", 3, 3).retry, false);
  assert.equal(decideRetry(net, "RetrievePropertiesEx", 1, 3).retry, true);
  assert.equal(decideRetry(net, "CreateSnapshot_Task", 1, 3).retry, false);
  assert.equal(decideRetry(login, "Login", 1, 3).retry, false);
  assert.equal(decideRetry(new Error("x"), "RetrievePropertiesEx", 1, 3).retry, false);
});

test("pollDelay() backs off from 100 ms to a 2 s ceiling", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 10].map(pollDelay), [100, 200, 400, 800, 1600, 2000, 2000]);
});
