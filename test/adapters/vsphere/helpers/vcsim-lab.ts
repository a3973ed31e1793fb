/**
 * One vcsim (vCenter model) per test file with a logged-in adapter session, and the small drivers
 * the tests use: raw tasks, property changes through vcsim's `SET.` extraConfig keys, lookups by name.
 */
import assert from "node:assert/strict";
import { connectVsphere, type VsphereSession } from "../../../../adapters/vsphere/index.js";
import { runTask } from "../../../../adapters/vsphere/waiters.js";
import type { SoapValue } from "../../../../adapters/vsphere/soap/envelope.js";
import type { VmInfo } from "../../../../src/domain/hypervisor.js";
import { captureLogger } from "./logs.js";
import { startVcsim, type Vcsim } from "./vcsim.js";

export const PASSWORD = `s3cr3t <&> "pw" ü`;
export const clock = { now: () => new Date(0) };
export const noSleep = async () => {};
export const vmRef = (vm: VmInfo) => ({ type: "VirtualMachine", value: vm.ref });

export class VcsimLab {
  #sim: Vcsim | undefined;
  #session: VsphereSession | undefined;
  readonly logger = captureLogger();

  get sim(): Vcsim {
    if (this.#sim === undefined) throw new Error("vcsim not started");
    return this.#sim;
  }

  get session(): VsphereSession {
    if (this.#session === undefined) throw new Error("no session");
    return this.#session;
  }

  async start(args: readonly string[]): Promise<void> {
    this.#sim = await startVcsim(args, PASSWORD);
    this.#session = await this.connect();
  }

  async stop(): Promise<void> {
    await this.#session?.close();
    await this.#sim?.stop();
  }

  connect(overrides: Record<string, unknown> = {}, log = this.logger) {
    return connectVsphere(
      {
        url: this.sim.url,
        username: this.sim.username,
        password: PASSWORD,
        tls: { insecure: true },
        quiesceRetryDelayMs: 0,
        ...overrides,
      },
      { logger: log, clock, sleep: noSleep },
    );
  }

  task(method: string, args: Record<string, SoapValue>) {
    return runTask(this.session.client, method, args, "test", { clock, sleep: noSleep, timeoutMs: 10_000 });
  }

  async vmNamed(name: string): Promise<VmInfo> {
    const vm = (await this.session.inventory()).find((v) => v.name === name);
    assert.ok(vm, `VM ${name} in inventory`);
    return vm;
  }

  async setProps(vm: VmInfo, props: Record<string, string>): Promise<void> {
    await this.task("ReconfigVM_Task", {
      _this: vmRef(vm),
      spec: {
        _type: "VirtualMachineConfigSpec",
        extraConfig: Object.entries(props).map(([key, value]) => ({
          _type: "OptionValue",
          key: `SET.${key}`,
          value,
        })),
      },
    });
  }
}
