import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ExitCode, type Command } from "../command.js";
import { jsonLine } from "../format.js";
import { parseCommandArgs } from "../run.js";
import { interruptSignal } from "../app/context.js";
import { startLab } from "../app/lab.js";

export const sim: Command = {
  path: ["sim"],
  usage: "sim [--scenario FILE] [--dir DIR]",
  summary:
    "Start the simulators (vSphere SOAP over HTTPS, ESXi SSH) from a scenario; print their endpoints as JSON; run until interrupted.",
  async run(args, io) {
    const { values } = parseCommandArgs("sim", args, {
      scenario: { type: "string" },
      dir: { type: "string" },
    });
    const dir = values.dir ? resolve(values.dir) : await mkdtemp(join(tmpdir(), "snapvisor-sim-"));
    const lab = await startLab({
      dir,
      ...(values.scenario ? { vsphereScenario: resolve(values.scenario) } : {}),
    });
    io.stdout.write(jsonLine({ dir, ...lab.endpoints() }));
    const interrupt = interruptSignal(io, "stopping the simulators");
    try {
      await new Promise<void>((done) => {
        if (interrupt.signal.aborted) done();
        interrupt.signal.addEventListener("abort", () => done(), { once: true });
      });
    } finally {
      interrupt.dispose();
      await lab.stop();
      if (!values.dir) await rm(dir, { recursive: true, force: true });
    }
    return ExitCode.ok;
  },
};
