import { resolve } from "node:path";
import { SnapvisorError } from "../../domain/errors.js";
import {
  replicate as replicatePoints,
  type ReplicatedPoint,
  type ReplicationReport,
} from "../../repository/replicate.js";
import { runReplication } from "../../repository/replication-jobs.js";
import { loadOutbound } from "../../repository/replication-state.js";
import { ExitCode, type CliIo } from "../command.js";
import { formatBytes, jsonLine } from "../format.js";
import { parseCommandArgs } from "../args.js";
import { withPair } from "./pair-context.js";

export function pointLine(p: ReplicatedPoint): string {
  const state = p.missing > 0 ? `, orphaned (${p.missing} chunks missing)` : "";
  return `  ${p.action.padEnd(8)} ${p.target.machineId}/${p.target.pointId}: ${p.chunksSent} chunks, ${formatBytes(p.bytesSent)} sent${state}\n`;
}

export function reportLines(io: CliIo, report: ReplicationReport, json: boolean): ExitCode {
  if (json) {
    io.stdout.write(jsonLine(report));
  } else {
    const copied = report.points.filter((p) => p.action !== "present").length;
    io.stdout.write(
      `Replicated ${copied} point(s): ${report.chunksSent} chunks sent (${formatBytes(report.bytesSent)}), ` +
        `${report.chunksPresent} already there` +
        (report.pointsHeldBack > 0
          ? `, ${report.pointsHeldBack} older point(s) left for the seed drive`
          : "") +
        "\n",
    );
  }
  const orphaned = report.points.filter((p) => p.missing > 0);
  if (orphaned.length > 0) {
    io.stderr.write(
      `snapvisor: ${orphaned.length} point(s) arrived orphaned (their base is not in the target yet): ` +
        `consume a seed drive there ("snapvisor seed consume") to make them restorable\n`,
    );
    return ExitCode.warnings;
  }
  return ExitCode.ok;
}

export async function replicate(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values } = parseCommandArgs("replicate", args, {
    from: { type: "string" },
    to: { type: "string" },
    machine: { type: "string", multiple: true },
    since: { type: "string" },
    prefix: { type: "string" },
    repair: { type: "boolean" },
    json: { type: "boolean" },
  });
  const onPoint = values.json
    ? undefined
    : (p: ReplicatedPoint) => p.action !== "present" && io.stdout.write(pointLine(p));
  const report = await withPair(io, values.from, values.to, "replicate", async (source, target) => {
    const common = {
      ...(values.machine ? { machines: values.machine } : {}),
      ...(io.signal ? { signal: io.signal } : {}),
      ...(onPoint ? { onPoint } : {}),
    };
    const record = await loadOutbound(source.storage, target.config.id);
    if (record && values.since === undefined && values.prefix === undefined) {
      // A set-up replication: its pauses, prefix and seed drive apply.
      const run = await runReplication(source, target, {
        ...common,
        sourceLocation: resolve(values.from!),
      });
      return run.report;
    }
    let upTo: Record<string, string> | undefined;
    if (values.since !== undefined) {
      const ref = await source.findPoint(values.since);
      upTo = { [ref.machineId]: ref.pointId };
      if (values.machine && !values.machine.includes(ref.machineId)) {
        throw new SnapvisorError(
          "USAGE",
          `replicate: --since ${values.since} is a point of ${ref.machineId}, not of the machines given`,
        );
      }
    }
    return replicatePoints(source, target, {
      ...common,
      ...(upTo ? { upTo, withholdBefore: true } : {}),
      repair: values.repair === true,
      ...(values.prefix !== undefined ? { prefix: values.prefix } : {}),
    });
  });
  return reportLines(io, report, values.json === true);
}
