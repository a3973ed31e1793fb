import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { SnapvisorError } from "../../domain/errors.js";
import { ExitCode, type CliIo } from "../command.js";
import { jsonLine } from "../format.js";
import { parseCommandArgs } from "../args.js";
import { interruptSignal } from "../app/context.js";
import { startLab } from "../app/lab.js";
import { scenarioKindOfFile } from "../app/scenario-kind.js";

export async function sim(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values } = parseCommandArgs("sim", args, {
    scenario: { type: "string", multiple: true },
    dir: { type: "string" },
  });
  // One scenario of each kind at most; a file's kind is told by its shape.
  const chosen: { vsphereScenario?: string; hypervScenario?: string } = {};
  for (const given of values.scenario ?? []) {
    const file = resolve(given);
    const key = (await scenarioKindOfFile(file)) === "vsphere" ? "vsphereScenario" : "hypervScenario";
    if (chosen[key] !== undefined)
      throw new SnapvisorError(
        "USAGE",
        `sim: two ${key === "vsphereScenario" ? "vSphere" : "Hyper-V"} scenarios given ("${chosen[key]}" and "${file}"); one of each kind at most`,
      );
    chosen[key] = file;
  }
  const dir = values.dir ? resolve(values.dir) : await mkdtemp(join(tmpdir(), "snapvisor-sim-"));
  const lab = await startLab({ dir, ...chosen });
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
}
