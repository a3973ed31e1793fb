/**
 * The HypervisorSession contract run against the real vSphere adapter talking SOAP to the vSphere
 * simulator on loopback: what the controller assumes of the fake holds for the adapter too.
 */
import { connectVsphere } from "../../adapters/vsphere/index.js";
import { hypervisorSessionContract } from "../contracts/hypervisor-session.js";
import {
  PASSWORD,
  USER,
  runTask,
  scenario,
  snapshotArgs,
  startLab,
  vmSpec,
} from "../simulators/vsphere/helpers.js";

hypervisorSessionContract(
  "vSphere adapter against the vSphere simulator",
  async () => {
    const lab = await startLab(scenario([vmSpec("contract-vm", { changeTracking: true })]));
    try {
      const session = await connectVsphere(
        {
          url: lab.sim.sdkUrl,
          username: USER,
          password: PASSWORD,
          tls: { thumbprint: lab.sim.thumbprint },
          quiesceRetryDelayMs: 0,
        },
        { sleep: async () => {} },
      );
      return {
        session,
        vmName: "contract-vm",
        guestWrite: async (key, offset, bytes) => {
          const r = await lab.control("POST", "/vms/contract-vm/write", {
            disk: Number(key),
            offset,
            data: Buffer.from(bytes).toString("base64"),
          });
          if (r.status !== 200) throw new Error(`guest write failed: ${r.status} ${r.body.toString()}`);
        },
        userSnapshot: async (name) => {
          await runTask(lab, "CreateSnapshot_Task", await lab.vm("contract-vm"), snapshotArgs(name, false));
        },
        close: async () => {
          await session.close();
          await lab.stop();
        },
      };
    } catch (err) {
      await lab.stop();
      throw err;
    }
  },
  { changeTracking: true },
);
