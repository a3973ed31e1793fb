import { collectGarbage } from "../../repository/gc.js";
import { ExitCode, type CliIo } from "../command.js";
import { formatBytes, jsonLine } from "../format.js";
import { parseCommandArgs } from "../args.js";
import { intOption, withRepository } from "./repo-context.js";

export async function gc(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values } = parseCommandArgs("gc", args, {
    repo: { type: "string" },
    "grace-minutes": { type: "string" },
    "dry-run": { type: "boolean" },
    json: { type: "boolean" },
  });
  const grace = intOption("gc", "grace-minutes", values["grace-minutes"]);
  const report = await withRepository(io, values.repo, "gc", "gc", (repo) =>
    collectGarbage(repo, {
      dryRun: values["dry-run"] === true,
      ...(grace === undefined ? {} : { graceMs: grace * 60_000 }),
      ...(io.signal ? { signal: io.signal } : {}),
    }),
  );
  if (values.json) io.stdout.write(jsonLine(report));
  else {
    io.stdout.write(
      `${values["dry-run"] ? "Would remove" : "Removed"} ${report.chunksRemoved} of ${report.chunksSeen} chunks (${formatBytes(report.bytesRemoved)}); ` +
        `${report.chunksInUse} in use by ${report.pointsMarked} points; ${report.chunksSpared} unreferenced but newer than ${report.cutoff} kept; ` +
        `${report.incompletePointsRemoved} incomplete points and ${report.temporaryFilesRemoved} temporary files removed\n`,
    );
  }
  return ExitCode.ok;
}
