import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { z } from "zod";
import { OUTPUT_MARK } from "../../../adapters/hyperv/invocation.js";
import {
  IC_STATUSES,
  VM_STATES,
  parseData,
  parseEnvelope,
  psDate,
  psEnum,
  psList,
} from "../../../adapters/hyperv/parse.js";

function answer(json: unknown): string {
  return `noise before\r\n${OUTPUT_MARK}${Buffer.from(JSON.stringify(json)).toString("base64")}\r\n`;
}

describe("parsing Windows PowerShell 5.1 answers", () => {
  it("finds the marked base64 line among other output", () => {
    assert.deepEqual(parseEnvelope(answer({ ok: true, data: [1] }), "t"), { ok: true, data: [1] });
  });

  it("reports a script failure with its error id", () => {
    const env = parseEnvelope(
      answer({ ok: false, error: { message: "m", type: "T", id: "Id,Cmd", category: "ObjectNotFound" } }),
      "t",
    );
    assert.deepEqual(env, {
      ok: false,
      error: { message: "m", type: "T", id: "Id,Cmd", category: "ObjectNotFound" },
    });
  });

  it("fails with HYPERV_BAD_OUTPUT when no answer line is present or it is not JSON", () => {
    assert.throws(
      () => parseEnvelope("PS C:\\> ", "t"),
      (e: Error & { code?: string }) => e.code === "HYPERV_BAD_OUTPUT",
    );
    assert.throws(
      () => parseEnvelope(`${OUTPUT_MARK}%%%`, "t"),
      (e: Error & { code?: string }) => e.code === "HYPERV_BAD_OUTPUT",
    );
  });

  const dates: Array<[unknown, string | null]> = [
    ["/Date(1700000000000)/", "2023-11-14T22:13:20.000Z"],
    ["/Date(-1000)/", "1969-12-31T23:59:59.000Z"],
    ["2023-11-14T22:13:20Z", "2023-11-14T22:13:20.000Z"],
    [null, null],
  ];
  for (const [input, iso] of dates) {
    it(`normalizes the date ${JSON.stringify(input)}`, () => {
      const d = psDate.parse(input);
      assert.equal(d === null ? null : d.toISOString(), iso);
    });
  }

  it("rejects a date that is not one", () => {
    assert.equal(psDate.safeParse("/Date(x)/").success, false);
  });

  it("maps enums written as numbers (5.1) or names (pwsh 7), and names unknown numbers", () => {
    const state = psEnum(VM_STATES, "VMState");
    assert.equal(state.parse(2), "Running");
    assert.equal(state.parse(32784), "OffCritical");
    assert.equal(state.parse("off"), "Off");
    assert.equal(state.parse(77), "VMState(77)");
    assert.equal(psEnum(IC_STATUSES, "status").parse(12), "NoContact");
  });

  it("accepts a list written as one object, as null or as an array", () => {
    const list = psList(z.number());
    assert.deepEqual(list.parse(1), [1]);
    assert.deepEqual(list.parse(null), []);
    assert.deepEqual(list.parse([1, 2]), [1, 2]);
  });

  it("names the path of a schema mismatch", () => {
    assert.throws(
      () => parseData(z.object({ a: z.object({ b: z.number() }) }), { a: { b: "x" } }, "what"),
      (e: Error & { code?: string }) => e.code === "HYPERV_BAD_OUTPUT" && /a\.b/.test(e.message),
    );
  });
});
