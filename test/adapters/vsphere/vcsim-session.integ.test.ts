/**
 * The adapter against VMware's vcsim over real SOAP/HTTPS: login, TLS policies, inventory, tools
 * states, hostile names, shutdown evidence from events, session renewal, the ESXi model.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import tls from "node:tls";
import { connectVsphere } from "../../../adapters/vsphere/index.js";
import { isSnapvisorError } from "../../../src/domain/errors.js";
import { captureLogger } from "./helpers/logs.js";
import { startVcsim } from "./helpers/vcsim.js";
import { clock, noSleep, VcsimLab, vmRef } from "./helpers/vcsim-lab.js";

const lab = new VcsimLab();
before(() => lab.start(["-vm", "3"]));
after(() => lab.stop());

describe("vSphere adapter against vcsim: session and inventory", () => {
  test("lab.connect() logs in, warns about insecure TLS and never logs the password", async () => {
    assert.ok(
      lab.logger.records.some((r) => r.level === "warn" && /TLS verification is OFF/.test(r.msg ?? "")),
    );
    assert.equal(lab.logger.text().includes("s3cr3t"), false);
  });

  test("lab.connect() refuses a wrong password with VSPHERE_INVALID_LOGIN and does not log it", async () => {
    const log = captureLogger();
    await assert.rejects(
      connectVsphere(
        { url: lab.sim.url, username: lab.sim.username, password: "wrong-pw-123", tls: { insecure: true } },
        { logger: log },
      ),
      (e) => isSnapvisorError(e, "VSPHERE_INVALID_LOGIN"),
    );
    assert.equal(log.text().includes("wrong-pw-123"), false);
  });

  test("TLS is verified by default: vcsim's self-signed certificate is refused with VSPHERE_TLS_UNTRUSTED", async () => {
    await assert.rejects(lab.connect({ tls: {} }), (e) => isSnapvisorError(e, "VSPHERE_TLS_UNTRUSTED"));
  });

  test("a pinned SHA-256 or SHA-1 thumbprint is accepted when it matches and refused when it does not", async () => {
    const { port } = new URL(lab.sim.origin);
    const cert = await new Promise<tls.PeerCertificate>((resolve, reject) => {
      const s = tls.connect({ host: "127.0.0.1", port: Number(port), rejectUnauthorized: false }, () => {
        resolve(s.getPeerCertificate());
        s.end();
      });
      s.once("error", reject);
    });
    const fingerprint = cert.fingerprint256;
    for (const thumbprint of [fingerprint, cert.fingerprint]) {
      const pinned = await lab.connect({ tls: { thumbprint } });
      assert.ok((await pinned.inventory()).length > 0);
      await pinned.close();
    }
    const wrong = fingerprint.replace(/^../, fingerprint.startsWith("00") ? "11" : "00");
    await assert.rejects(lab.connect({ tls: { thumbprint: wrong } }), (e) =>
      isSnapvisorError(e, "VSPHERE_TLS_UNTRUSTED"),
    );
  });

  test("inventory() lists every VM with host, cluster, power, tools and disks in three round trips", async () => {
    const before = lab.logger.records.filter((r) => r.msg === "vSphere call").length;
    const vms = await lab.session.inventory();
    const calls = lab.logger.records.filter((r) => r.msg === "vSphere call").slice(before);
    assert.deepEqual(
      calls.map((r) => (r.obj as { method: string }).method),
      ["CreateContainerView", "RetrievePropertiesEx", "DestroyView"],
    );
    assert.equal(vms.length, 6);
    const vm = vms.find((v) => v.name === "DC0_C0_RP0_VM0");
    assert.ok(vm);
    assert.equal(vm.hypervisor, "vsphere");
    assert.match(vm.ref, /^vm-/);
    assert.match(vm.id, /^[0-9a-f-]{36}$/);
    assert.equal(vm.power, "on");
    assert.equal(vm.cluster, "DC0_C0");
    assert.match(vm.host, /^DC0_C0_H\d$/);
    assert.equal(vm.tools, "not-installed");
    assert.equal(vm.disks.length, 1);
    assert.equal(vm.disks[0]?.capacity, 1024 * 1024);
    assert.equal(vm.disks[0]?.datastore, "LocalDS_0");
    assert.match(vm.disks[0]?.path ?? "", /^\[LocalDS_0\] DC0_C0_RP0_VM0\/disk1\.vmdk$/);
    const standalone = vms.find((v) => v.name === "DC0_H0_VM0");
    assert.equal(standalone?.cluster, undefined);
    assert.equal(standalone?.host, "DC0_H0");
  });

  test("tools states set through vcsim are read as running / not-running", async () => {
    const vm = await lab.vmNamed("DC0_H0_VM1");
    await lab.setProps(vm, {
      "guest.toolsRunningStatus": "guestToolsRunning",
      "guest.toolsVersionStatus2": "guestToolsCurrent",
    });
    assert.equal((await lab.vmNamed("DC0_H0_VM1")).tools, "running");
    await lab.setProps(vm, { "guest.toolsRunningStatus": "guestToolsNotRunning" });
    const stopped = await lab.vmNamed("DC0_H0_VM1");
    assert.equal(stopped.tools, "not-running");
    assert.match(stopped.toolsDetail, /guestToolsNotRunning/);
  });

  test("hostile VM names round-trip exactly through Rename_Task and inventory", async () => {
    const vm = await lab.vmNamed("DC0_H0_VM2");
    for (const name of [`<a&b>`, `"double" 'single' quotes`, `ünïcødé 名前 😀`, `]]> &amp; &#38; \\ /`]) {
      await lab.task("Rename_Task", { _this: vmRef(vm), newName: name });
      const found = (await lab.session.inventory()).find((v) => v.ref === vm.ref);
      assert.equal(found?.name, name);
    }
    await lab.task("Rename_Task", { _this: vmRef(vm), newName: "DC0_H0_VM2" });
  });

  test("a hard power-off is dirty and a guest shutdown is clean, from vCenter events", async () => {
    const hard = await lab.vmNamed("DC0_C0_RP0_VM1");
    await lab.task("PowerOffVM_Task", { _this: vmRef(hard) });
    const soft = await lab.vmNamed("DC0_C0_RP0_VM2");
    await lab.session.client.call("ShutdownGuest", { _this: vmRef(soft) });
    const vms = await lab.session.inventory();
    const h = vms.find((v) => v.ref === hard.ref);
    const s = vms.find((v) => v.ref === soft.ref);
    assert.equal(h?.power, "off");
    assert.equal(h?.lastShutdown, "dirty");
    assert.match(h?.lastShutdownDetail ?? "", /without a guest shutdown/);
    assert.equal(s?.lastShutdown, "clean");
    assert.match(s?.lastShutdownDetail ?? "", /VmGuestShutdownEvent/);
    await lab.task("PowerOnVM_Task", { _this: vmRef(hard) });
    assert.equal((await lab.vmNamed("DC0_C0_RP0_VM1")).lastShutdown, "unknown");
  });

  test("an expired session is renewed once by logging in again", async () => {
    await lab.session.client.call("Logout", { _this: lab.session.client.content.sessionManager });
    const vms = await lab.session.inventory();
    assert.equal(vms.length, 6);
  });
});

describe("vSphere adapter against vcsim in ESXi mode", () => {
  test("inventory() works on a standalone host without event history (unknown shutdown kind)", async () => {
    const esx = await startVcsim(["-esx", "-autostart=false"], "pw");
    try {
      const s = await connectVsphere(
        { url: esx.url, username: esx.username, password: "pw", tls: { insecure: true } },
        { clock, sleep: noSleep },
      );
      const vms = await s.inventory();
      assert.equal(vms.length, 2);
      assert.deepEqual(
        vms.map((v) => [v.power, v.lastShutdown, v.host]),
        vms.map(() => ["off", "unknown", "localhost.localdomain"]),
      );
      await s.close();
    } finally {
      await esx.stop();
    }
  });
});
