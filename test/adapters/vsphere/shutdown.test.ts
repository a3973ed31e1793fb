import { test } from "node:test";
import assert from "node:assert/strict";
import { decideShutdown } from "../../../adapters/vsphere/shutdown.js";
import type { VmEvent } from "../../../adapters/vsphere/parse.js";

let key = 0;
const ev = (type: string, extra: Partial<VmEvent> = {}): VmEvent => ({
  _type: type,
  key: ++key,
  createdTime: `2026-01-01T00:00:${String(key).padStart(2, "0")}Z`,
  userName: "admin",
  ...extra,
});

const cases: { name: string; clean: boolean | undefined; events: VmEvent[]; kind: string }[] = [
  {
    name: "cleanPowerOff=false is dirty whatever the events say",
    clean: false,
    events: [ev("VmGuestShutdownEvent"), ev("VmPoweredOffEvent")],
    kind: "dirty",
  },
  {
    name: "a guest shutdown before the last power-off is clean",
    clean: undefined,
    events: [ev("VmPoweredOnEvent"), ev("VmGuestShutdownEvent"), ev("VmPoweredOffEvent")],
    kind: "clean",
  },
  {
    name: "a power-off with no guest shutdown is dirty (hard power-off)",
    clean: true,
    events: [ev("VmPoweredOnEvent"), ev("VmPoweredOffEvent")],
    kind: "dirty",
  },
  {
    name: "a guest shutdown from an earlier power cycle does not count",
    clean: undefined,
    events: [
      ev("VmGuestShutdownEvent"),
      ev("VmPoweredOffEvent"),
      ev("VmPoweredOnEvent"),
      ev("VmPoweredOffEvent"),
    ],
    kind: "dirty",
  },
  {
    name: "HA isolation power-off is dirty",
    clean: undefined,
    events: [ev("VmPowerOffOnIsolationEvent")],
    kind: "dirty",
  },
  {
    name: "HA isolation shutdown that shut down is clean",
    clean: undefined,
    events: [ev("VmShutdownOnIsolationEvent", { shutdownResult: "shutdown" })],
    kind: "clean",
  },
  {
    name: "HA isolation shutdown that fell back to power-off is dirty",
    clean: undefined,
    events: [ev("VmShutdownOnIsolationEvent", { shutdownResult: "poweredOff" })],
    kind: "dirty",
  },
  { name: "cleanPowerOff=true without any power-off event is clean", clean: true, events: [], kind: "clean" },
  {
    name: "no flag and no events is unknown (counted as dirty)",
    clean: undefined,
    events: [],
    kind: "unknown",
  },
  {
    name: "events out of order are sorted by key",
    clean: undefined,
    events: [ev("VmPoweredOnEvent"), ev("VmGuestShutdownEvent"), ev("VmPoweredOffEvent")].reverse(),
    kind: "clean",
  },
];

for (const c of cases) {
  test(`decideShutdown(): ${c.name}`, () => {
    const got = decideShutdown(c.clean, c.events);
    assert.equal(got.kind, c.kind);
    assert.notEqual(got.detail, "");
  });
}
