import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { REDACTED, createLogger, hostLogger, jobLogger } from "../../src/cli/logger.js";

function capture() {
  const lines: string[] = [];
  return {
    destination: { write: (s: string) => void lines.push(s) },
    records: () =>
      lines
        .join("")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    text: () => lines.join(""),
  };
}

describe("createLogger()", () => {
  it("redacts secrets at any depth and keeps the rest", () => {
    const out = capture();
    const log = createLogger({ destination: out.destination });
    log.info(
      {
        endpoint: { url: "https://vc1/sdk", user: "backup", password: "hunter2" },
        repository: { passphrase: "correct horse" },
        request: { headers: { authorization: "Basic Zm9vOmJhcg==", cookie: "vmware_soap_session=abc" } },
        ssh: { transport: { auth: { keyPassphrase: "k3y", token: "t0k" } } },
        secret: "top",
      },
      "connecting",
    );
    const text = out.text();
    for (const secret of [
      "hunter2",
      "correct horse",
      "Zm9vOmJhcg",
      "vmware_soap_session=abc",
      "k3y",
      "t0k",
      '"top"',
    ]) {
      assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
    }
    const [rec] = out.records();
    assert.deepEqual(rec?.endpoint, { url: "https://vc1/sdk", user: "backup", password: REDACTED });
    assert.equal(rec?.msg, "connecting");
  });

  it("gives child loggers per job and host that carry their bindings", () => {
    const out = capture();
    const log = hostLogger(jobLogger(createLogger({ destination: out.destination }), "job-7"), "esx1");
    log.warn({ vm: "sql-01" }, "quiesce fell back");
    const [rec] = out.records();
    assert.equal(rec?.job, "job-7");
    assert.equal(rec?.host, "esx1");
    assert.equal(rec?.vm, "sql-01");
    assert.equal(rec?.level, 40);
  });

  it("drops lines below its level", () => {
    const out = capture();
    const log = createLogger({ destination: out.destination, level: "warn" });
    log.info({}, "chatter");
    log.error({}, "bad");
    assert.deepEqual(
      out.records().map((r) => r.msg),
      ["bad"],
    );
  });
});
