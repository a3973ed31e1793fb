import { verifyRepository } from "../../repository/verify.js";
import { ExitCode, type CliIo } from "../command.js";
import { formatBytes, jsonLine } from "../format.js";
import { parseCommandArgs } from "../args.js";
import { withRepository } from "./repo-context.js";

export async function verify(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs("verify", args, {
    repo: { type: "string" },
    json: { type: "boolean" },
  });
  const report = await withRepository(io, values.repo, "read", "verify", async (repo) => {
    const refs =
      positionals.length === 0 ? undefined : await Promise.all(positionals.map((p) => repo.findPoint(p)));
    return verifyRepository(repo, refs, io.signal ? { signal: io.signal } : {});
  });
  const broken = report.brokenPoints.length > 0 || report.chunkProblems.length > 0;
  if (values.json) io.stdout.write(jsonLine({ ok: !broken, ...report }));
  else {
    io.stdout.write(
      `Checked ${report.pointsChecked} points, ${report.chunksChecked} chunks (${formatBytes(report.bytesChecked)})\n`,
    );
    for (const c of report.chunkProblems) {
      io.stdout.write(`chunk ${c.chunk} ${c.problem}: ${c.detail}\n  breaks ${c.points.join(", ")}\n`);
    }
    for (const p of report.brokenPoints)
      io.stdout.write(`point ${p.point} is broken: ${p.problems.join("; ")}\n`);
    io.stdout.write(broken ? `${report.brokenPoints.length} points broken\n` : "No problems found\n");
  }
  return broken ? ExitCode.failed : ExitCode.ok;
}
