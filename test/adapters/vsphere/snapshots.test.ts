import { test } from "node:test";
import assert from "node:assert/strict";
import { achievedConsistency, isOurs, OUR_MARK, snapshotName } from "../../../adapters/vsphere/snapshots.js";
import { SNAPSHOT_PREFIX } from "../../../src/domain/hypervisor.js";
import type { ConsistencyLevel } from "../../../src/domain/ports.js";

type Case = [
  power: "on" | "off",
  os: "windows" | "linux" | "other",
  quiesced: boolean,
  manifest: string | undefined,
  expected: ConsistencyLevel,
  achieved: ConsistencyLevel,
];
const table: Case[] = [
  ["on", "windows", true, "<manifest/>", "application", "application"],
  ["on", "windows", true, undefined, "application", "filesystem"],
  ["on", "windows", false, undefined, "application", "crash"],
  ["on", "linux", true, undefined, "filesystem", "filesystem"],
  ["on", "linux", true, undefined, "application", "filesystem"],
  ["on", "linux", false, undefined, "filesystem", "crash"],
  ["on", "other", false, undefined, "crash", "crash"],
  ["on", "windows", true, "<m/>", "crash", "crash"],
  ["off", "windows", false, undefined, "application", "application"],
  ["off", "linux", false, undefined, "crash", "crash"],
];

for (const [power, guestOs, quiesced, backupManifest, expected, achieved] of table) {
  test(`achievedConsistency() is ${achieved} for a ${power} ${guestOs} VM, quiesced=${quiesced}, manifest=${backupManifest !== undefined}, expected ${expected}`, () => {
    const got = achievedConsistency({ power, guestOs }, { quiesced, backupManifest }, expected);
    assert.equal(got.achieved, achieved);
    assert.equal(got.reason === "", achieved === expected);
  });
}

test("isOurs() needs both the name prefix and our description mark, so a user's look-alike is kept", () => {
  assert.equal(isOurs({ name: snapshotName("job-1"), description: `${OUR_MARK}; job job-1` }), true);
  assert.equal(isOurs({ name: `${SNAPSHOT_PREFIX}mine`, description: "my snapshot" }), false);
  assert.equal(isOurs({ name: "before upgrade", description: OUR_MARK }), false);
});
