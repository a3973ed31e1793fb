import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { classifyShutdown } from "../../../adapters/hyperv/shutdown.js";

const at = (h: number): Date => new Date(Date.UTC(2026, 10, 20, h));

describe("classifyShutdown()", () => {
  const cases: Array<[string, Array<[number, number]>, string]> = [
    [
      "is clean after a guest shutdown (18508)",
      [
        [18601, 1],
        [18508, 2],
      ],
      "clean",
    ],
    ["is clean after a host-requested shutdown (18504)", [[18504, 2]], "clean"],
    [
      "is dirty after a turn-off (18502)",
      [
        [18508, 1],
        [18502, 2],
      ],
      "dirty",
    ],
    ["is dirty after a critical stop (18528)", [[18528, 2]], "dirty"],
    ["is dirty after a triple fault (18539)", [[18539, 2]], "dirty"],
    [
      "is dirty when the last event is a start with no halt after it",
      [
        [18508, 1],
        [18601, 2],
      ],
      "dirty",
    ],
    ["is unknown with no events at all", [], "unknown"],
    [
      "ignores events that are not halts or starts",
      [
        [18508, 1],
        [12345, 3],
      ],
      "clean",
    ],
  ];
  for (const [name, events, kind] of cases) {
    it(name, () => {
      const r = classifyShutdown(events.map(([id, h]) => ({ id, time: at(h), node: "HV01" })));
      assert.equal(r.kind, kind);
    });
  }

  it("orders by time, not by list order, and says which event decided", () => {
    const r = classifyShutdown([
      { id: 18502, time: at(5), node: "HV02" },
      { id: 18508, time: at(1), node: "HV01" },
    ]);
    assert.equal(r.kind, "dirty");
    assert.match(r.detail, /turned off \(18502\).*HV02/);
  });
});
