import { resolve } from "node:path";
import { SnapvisorError } from "../../domain/errors.js";
import { parseSize } from "../../repository/config.js";
import { abandonSeed } from "../../repository/replication-jobs.js";
import { findOutbound } from "../../repository/replication-state.js";
import { consumeSeed } from "../../repository/seed-consume.js";
import { exportSeed } from "../../repository/seed.js";
import { ExitCode, type CliIo } from "../command.js";
import { formatBytes, jsonLine } from "../format.js";
import { parseCommandArgs } from "../args.js";
import { withRepository } from "./repo-context.js";
import { openTarget } from "./pair-context.js";

export async function seedExport(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values } = parseCommandArgs("seed export", args, {
    repo: { type: "string" },
    out: { type: "string" },
    machine: { type: "string", multiple: true },
    "max-size": { type: "string" },
    json: { type: "boolean" },
  });
  if (!values.out) throw new SnapvisorError("USAGE", "seed export: --out DIR is required");
  const maxSize = values["max-size"] === undefined ? undefined : parseSize(values["max-size"]);
  const report = await withRepository(io, values.repo, "read", "seed export", (repo) =>
    exportSeed(repo, resolve(values.out!), {
      ...(values.machine ? { machines: values.machine } : {}),
      ...(maxSize === undefined ? {} : { maxSize }),
      ...(io.signal ? { signal: io.signal } : {}),
    }),
  );
  if (values.json) io.stdout.write(jsonLine(report));
  else
    io.stdout.write(
      `Seed ${report.seedId}: ${report.points} points, ${report.chunks} chunks, ${formatBytes(report.bytes)} in ` +
        `${report.volumes.length} volume(s):\n${report.volumes.map((v) => `  ${v}\n`).join("")}`,
    );
  if (report.chunksUnavailable > 0) {
    io.stderr.write(
      `snapvisor: ${report.chunksUnavailable} chunks are missing from this repository itself; points that need them stay orphaned\n`,
    );
    return ExitCode.warnings;
  }
  return ExitCode.ok;
}

export async function seedConsume(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs("seed consume", args, {
    repo: { type: "string" },
    from: { type: "string", multiple: true },
    prefix: { type: "string" },
    json: { type: "boolean" },
  });
  const dirs = [...(values.from ?? []), ...positionals];
  if (dirs.length === 0)
    throw new SnapvisorError("USAGE", "seed consume: --from DIR (each volume) is required");
  if (!values.repo) throw new SnapvisorError("USAGE", "seed consume: --repo DIR is required");
  const target = await openTarget(io, values.repo, "seed consume");
  let report;
  try {
    report = await consumeSeed(target.repo, dirs, {
      ...(values.prefix ? { prefix: values.prefix } : {}),
      ...(io.signal ? { signal: io.signal } : {}),
    });
  } finally {
    await target.close();
  }
  if (values.json) io.stdout.write(jsonLine(report));
  else
    io.stdout.write(
      `Seed ${report.seedId} from ${report.sourceId}: ${report.pointsImported} points imported (${report.pointsPresent} already here), ` +
        `${report.chunksImported} chunks (${formatBytes(report.bytesImported)}), ${report.orphansRepaired.length} orphaned point(s) now complete\n`,
    );
  return ExitCode.ok;
}

export async function seedAbandon(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values } = parseCommandArgs("seed abandon", args, {
    repo: { type: "string" },
    target: { type: "string" },
  });
  if (!values.target) throw new SnapvisorError("USAGE", "seed abandon: --target ID is required");
  const record = await withRepository(io, values.repo, "read", "seed abandon", async (repo) =>
    abandonSeed(repo, await findOutbound(repo.storage, values.target!)),
  );
  io.stdout.write(
    `Seed drive of the replication to ${record.target.id} abandoned: the next replication sends the chunks its orphans lack\n`,
  );
  return ExitCode.ok;
}
