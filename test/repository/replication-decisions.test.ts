import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isDue } from "../../src/cli/commands/replication-due.js";
import { isSnapvisorError } from "../../src/domain/errors.js";
import type { OutboundReplication } from "../../src/repository/replication-state.js";
import { checkVolumeSet, type SeedVolume } from "../../src/repository/seed-format.js";

const SEED = "11111111-2222-3333-4444-555555555555";

function volume(n: number, volumes: number | null, seedId = SEED): { where: string; volume: SeedVolume } {
  return {
    where: `/media/seed.${n}`,
    volume: {
      format: "snapvisor-seed",
      version: 1,
      seedId,
      createdAt: "2026-11-22T00:00:00.000Z",
      source: { id: SEED, chunkSize: 65536, chunkId: "sha256", keyFingerprint: "00" },
      volume: n,
      volumes,
      origins: {},
      points: [],
      files: [],
    },
  };
}

describe("checkVolumeSet()", () => {
  const cases: { name: string; given: ReturnType<typeof volume>[]; code?: string; match?: RegExp }[] = [
    { name: "one volume that is the last", given: [volume(1, 1)] },
    { name: "three volumes in any order", given: [volume(3, 3), volume(1, null), volume(2, null)] },
    {
      name: "a missing middle volume",
      given: [volume(1, null), volume(3, 3)],
      code: "SEED_INCOMPLETE",
      match: /volume 2 of 3/,
    },
    {
      name: "no last volume",
      given: [volume(1, null), volume(2, null)],
      code: "SEED_INCOMPLETE",
      match: /the last one/,
    },
    {
      name: "a volume given twice",
      given: [volume(1, 1), volume(1, 1)],
      code: "USAGE",
      match: /given twice/,
    },
    {
      name: "volumes of two seeds",
      given: [volume(1, null), volume(2, 2, "99999999-2222-3333-4444-555555555555")],
      code: "USAGE",
      match: /different seeds/,
    },
  ];
  for (const c of cases) {
    it(`checkVolumeSet() ${c.code ? "refuses" : "accepts"} ${c.name}`, () => {
      if (!c.code) {
        assert.deepEqual(
          checkVolumeSet(c.given).map((v) => v.volume.volume),
          c.given.map((_, i) => i + 1),
        );
        return;
      }
      assert.throws(
        () => checkVolumeSet(c.given),
        (err: unknown) => isSnapvisorError(err, c.code!) && c.match!.test(err.message),
      );
    });
  }
});

function record(schedule: string, lastAt: string | null, paused = false): OutboundReplication {
  return {
    format: 1,
    target: { id: SEED, location: "/dr" },
    createdAt: "2026-11-20T00:00:00.000Z",
    machines: null,
    paused,
    pausedMachines: [],
    schedule,
    prefix: "",
    seed: null,
    last: lastAt ? { at: lastAt, ok: true, pointsCopied: 1, bytesSent: 1, error: null } : null,
  };
}

describe("isDue()", () => {
  const now = new Date("2026-11-22T02:30:00.000Z");
  const cases: [string, OutboundReplication, boolean][] = [
    ["after-backup is never due by schedule", record("after-backup", null), false],
    ["manual is never due", record("manual", null), false],
    ["daily 02:00, last run yesterday: due", record("daily 02:00", "2026-11-21T02:00:05.000Z"), true],
    ["daily 02:00, already ran today: not due", record("daily 02:00", "2026-11-22T02:00:05.000Z"), false],
    ["every 4h, ran 3 hours ago: not due", record("every 4h", "2026-11-21T23:30:00.000Z"), false],
    ["every 4h, ran 5 hours ago: due", record("every 4h", "2026-11-21T21:30:00.000Z"), true],
    ["paused: not due", record("every 4h", "2026-11-21T21:30:00.000Z", true), false],
  ];
  for (const [name, r, due] of cases) it(`isDue(): ${name}`, () => assert.equal(isDue(r, now), due));
});
