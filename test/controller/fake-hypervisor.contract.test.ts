import { FakeDisk, FakeHypervisor } from "../fakes/fake-hypervisor.js";
import { hypervisorSessionContract } from "../contracts/hypervisor-session.js";
import { disk, vm } from "./builders.js";

hypervisorSessionContract(
  "in-memory fake",
  async () => {
    const hv = new FakeHypervisor();
    const { disks: _d, snapshots: _s, ...info } = vm("contract-vm");
    const d = new FakeDisk(disk("2000"), "uuid-contract");
    d.write(0, new Uint8Array(1000).fill(1));
    const fake = hv.add({ info, disks: [d], snapshots: [], faults: {} });
    return {
      session: hv,
      vmName: "contract-vm",
      guestWrite: async (key, offset, bytes) =>
        fake.disks.find((x) => x.spec.key === key)?.write(offset, bytes),
      userSnapshot: async (name) => void fake.snapshots.push(name),
      close: () => hv.close(),
    };
  },
  { changeTracking: true },
);
