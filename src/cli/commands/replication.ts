import { resolve } from "node:path";
import { isSnapvisorError, SnapvisorError } from "../../domain/errors.js";
import { orphanReport } from "../../repository/orphans.js";
import { runReplication, setPaused, setUpReplication } from "../../repository/replication-jobs.js";
import { findOutbound, listIncoming, listOutbound, stateKeys } from "../../repository/replication-state.js";
import { ExitCode, type CliIo, type CommandRun } from "../command.js";
import { formatBytes, jsonLine, table } from "../format.js";
import { localTargetOpener } from "../../repository/replication-hook.js";
import { parseCommandArgs } from "../args.js";
import { checkSchedule, isDue } from "./replication-due.js";
import { withRepository } from "./repo-context.js";
import { targetPassphrase, withPair } from "./pair-context.js";
import { pointLine, reportLines } from "./replicate.js";

export async function replicationSetup(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values } = parseCommandArgs("replication setup", args, {
    from: { type: "string" },
    to: { type: "string" },
    machine: { type: "string", multiple: true },
    paused: { type: "boolean" },
    "seed-drive": { type: "boolean" },
    schedule: { type: "string" },
    prefix: { type: "string" },
  });
  const schedule = checkSchedule(values.schedule ?? "after-backup");
  const record = await withPair(io, values.from, values.to, "replication setup", (source, target) =>
    setUpReplication(source, target, {
      location: resolve(values.to!),
      sourceLocation: resolve(values.from!),
      schedule,
      paused: values.paused === true,
      withSeedDrive: values["seed-drive"] === true,
      ...(values.machine ? { machines: values.machine } : {}),
      ...(values.prefix ? { prefix: values.prefix } : {}),
    }),
  );
  io.stdout.write(
    `Replication to ${record.target.id} (${record.target.location}) set up: ${record.machines?.join(", ") ?? "all machines"}, ` +
      `${record.schedule}${record.paused ? ", paused" : ""}` +
      (record.seed
        ? `; points up to now come by seed drive ("snapvisor seed export --repo ${values.from} --out DIR")`
        : "") +
      "\n",
  );
  return ExitCode.ok;
}

function pauseCommand(paused: boolean): CommandRun {
  const verb = paused ? "pause" : "resume";
  return async (args, io) => {
    const { values } = parseCommandArgs(`replication ${verb}`, args, {
      repo: { type: "string" },
      target: { type: "string" },
      machine: { type: "string", multiple: true },
    });
    if (!values.target) throw new SnapvisorError("USAGE", `replication ${verb}: --target ID is required`);
    const record = await withRepository(io, values.repo, "read", `replication ${verb}`, async (repo) =>
      setPaused(repo, await findOutbound(repo.storage, values.target!), paused, values.machine),
    );
    io.stdout.write(
      `Replication to ${record.target.id}: ${record.paused ? "paused" : "active"}` +
        (record.pausedMachines.length > 0 ? `, paused machines: ${record.pausedMachines.join(", ")}` : "") +
        "\n",
    );
    return ExitCode.ok;
  };
}
export const replicationPause = pauseCommand(true);
export const replicationResume = pauseCommand(false);

export async function replicationRemove(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values } = parseCommandArgs("replication remove", args, {
    repo: { type: "string" },
    target: { type: "string" },
  });
  if (!values.target) throw new SnapvisorError("USAGE", "replication remove: --target ID is required");
  const id = await withRepository(io, values.repo, "read", "replication remove", async (repo) => {
    const record = await findOutbound(repo.storage, values.target!);
    await repo.storage.delete(stateKeys.outbound(record.target.id));
    return record.target.id;
  });
  io.stdout.write(`Replication to ${id} removed\n`);
  return ExitCode.ok;
}

export async function replicationRun(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values } = parseCommandArgs("replication run", args, {
    repo: { type: "string" },
    target: { type: "string" },
    due: { type: "boolean" },
    json: { type: "boolean" },
  });
  let exit: ExitCode = ExitCode.ok;
  let failed = false;
  await withRepository(io, values.repo, "read", "replication run", async (source) => {
    const all = values.target
      ? [await findOutbound(source.storage, values.target)]
      : await listOutbound(source.storage);
    const now = new Date();
    for (const record of all) {
      if (record.paused || (values.due && !isDue(record, now))) continue;
      io.stdout.write(`Replicating to ${record.target.id} (${record.target.location})\n`);
      try {
        const target = await localTargetOpener({
          passphrase: targetPassphrase(io),
          command: "replication run",
        })(record);
        try {
          const { report } = await runReplication(source, target.repo, {
            sourceLocation: resolve(values.repo!),
            ...(io.signal ? { signal: io.signal } : {}),
            ...(values.json
              ? {}
              : { onPoint: (p) => p.action !== "present" && io.stdout.write(pointLine(p)) }),
          });
          exit = Math.max(exit, reportLines(io, report, values.json === true)) as ExitCode;
        } finally {
          await target.close();
        }
      } catch (err) {
        // One unreachable or refusing target does not stop the others.
        if (!isSnapvisorError(err)) throw err;
        io.stderr.write(
          `snapvisor: replication to ${record.target.id} failed: ${err.message} [${err.code}]\n`,
        );
        failed = true;
      }
    }
  });
  return failed ? ExitCode.failed : exit;
}

export async function replicationStatus(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values } = parseCommandArgs("replication status", args, {
    repo: { type: "string" },
    json: { type: "boolean" },
  });
  const status = await withRepository(io, values.repo, "read", "replication status", async (repo) => {
    const outbound = await listOutbound(repo.storage);
    const incoming = await listIncoming(repo.storage);
    const refs = await repo.listPoints();
    const orphans = await orphanReport(repo, refs);
    return {
      outbound,
      incoming: incoming.map((r) => ({
        ...r,
        orphaned: [...orphans].filter(([k, n]) => n > 0 && r.machines.includes(k.split("/")[0]!)).length,
      })),
    };
  });
  if (values.json) {
    io.stdout.write(jsonLine(status));
    return ExitCode.ok;
  }
  io.stdout.write("Outbound:\n");
  io.stdout.write(
    table(
      ["TARGET", "LOCATION", "MACHINES", "STATE", "SCHEDULE", "SEED", "LAST RUN"],
      status.outbound.map((r) => [
        r.target.id,
        r.target.location,
        r.machines?.join(",") ?? "all",
        r.paused
          ? "paused"
          : r.pausedMachines.length > 0
            ? `paused: ${r.pausedMachines.join(",")}`
            : "active",
        r.schedule,
        r.seed ? r.seed.state : "-",
        r.last
          ? `${r.last.at} ${r.last.ok ? `ok, ${r.last.pointsCopied} points, ${formatBytes(r.last.bytesSent)}` : `failed: ${r.last.error}`}`
          : "never",
      ]),
    ),
  );
  io.stdout.write("Incoming:\n");
  io.stdout.write(
    table(
      ["SOURCE", "MACHINES", "SEED", "ORPHANED POINTS", "LAST"],
      status.incoming.map((r) => [
        r.source.id,
        r.machines.join(",") || "-",
        r.seed ? `${r.seed.state}${r.seed.seedId ? ` (${r.seed.seedId})` : ""}` : "-",
        String(r.orphaned),
        r.lastAt,
      ]),
    ),
  );
  return ExitCode.ok;
}
