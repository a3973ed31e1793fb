/** Config -> secrets -> the vSphere adapter's session, against the vSphere simulator. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { connectVsphere } from "../../adapters/vsphere/index.js";
import { validateConfig } from "../../src/controller/config.js";
import {
  closeSessions,
  openSessions,
  vsphereAdapterInput,
  type Connectors,
} from "../../src/controller/connect.js";
import { isSnapvisorError } from "../../src/domain/errors.js";
import { PASSWORD, USER, scenario, startLab, vmSpec } from "../simulators/vsphere/helpers.js";

const connectors: Connectors = {
  vsphere: (input) => connectVsphere({ ...input, quiesceRetryDelayMs: 0 }, { sleep: async () => {} }),
};

function cfg(url: string, thumbprint: string) {
  return validateConfig({
    vsphere: [{ name: "vc1", url, user: USER, password: { env: "VC1_PW" }, tls: { thumbprint } }],
    hyperv: { hosts: [{ name: "hv1", transport: "local" }] },
    repository: { path: "/r" },
  });
}

const noFiles = async (p: string): Promise<string> => {
  throw new Error(`ENOENT: ${p}`);
};

describe("openSessions()", () => {
  it("maps an endpoint onto the adapter's input", () => {
    const c = cfg("https://vc1.example/sdk", "ab".repeat(32));
    const endpoint = c.vsphere[0];
    assert.ok(endpoint);
    assert.deepEqual(vsphereAdapterInput(endpoint, "pw"), {
      url: "https://vc1.example/sdk",
      username: USER,
      password: "pw",
      tls: { thumbprint: Array(32).fill("AB").join(":"), insecure: false },
    });
  });

  it("opens a vSphere session with the password from the environment and the pinned certificate", async () => {
    const lab = await startLab(scenario([vmSpec("vm-a")]));
    try {
      const c = cfg(lab.sim.sdkUrl, lab.sim.thumbprint);
      const sessions = await openSessions(c, ["vc1"], connectors, {
        env: { VC1_PW: PASSWORD },
        readFile: noFiles,
      });
      try {
        const vms = await sessions.get("vc1")?.inventory();
        assert.deepEqual(
          vms?.map((v) => v.name),
          ["vm-a"],
        );
      } finally {
        await closeSessions(sessions);
      }
      await assert.rejects(
        openSessions(c, ["vc1"], connectors, { env: {}, readFile: noFiles }),
        (err) => isSnapvisorError(err, "SECRET_UNAVAILABLE") && err.message.includes("VC1_PW is not set"),
      );
    } finally {
      await lab.stop();
    }
  });

  it("says clearly that a Hyper-V source needs the Hyper-V connector, and closes what it opened", async () => {
    let closed = 0;
    const fakeVsphere: Connectors = {
      vsphere: async () => ({
        inventory: async () => [],
        removeLeftovers: async () => [],
        createSnapshot: () => Promise.reject(new Error("unused")),
        changedAreas: () => Promise.reject(new Error("unused")),
        openDisk: () => Promise.reject(new Error("unused")),
        commitSnapshot: async () => {},
        removeSnapshot: async () => {},
        close: async () => void closed++,
      }),
    };
    const c = cfg("https://vc1.example/sdk", "ab".repeat(32));
    await assert.rejects(
      openSessions(c, ["vc1", "hv1"], fakeVsphere, { env: { VC1_PW: "x" }, readFile: noFiles }),
      (err) => isSnapvisorError(err, "USAGE") && err.message.includes('Hyper-V source "hv1"'),
    );
    assert.equal(closed, 1);
  });
});
