import { SnapvisorError } from "../../domain/errors.js";
import { restoreToFile, restoreToStream } from "../../repository/restore.js";
import { ExitCode, type CliIo } from "../command.js";
import { formatBytes } from "../format.js";
import { parseCommandArgs } from "../args.js";
import { pickDisk, requirePositional, withRepository } from "./repo-context.js";

export async function restore(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs("restore", args, {
    repo: { type: "string" },
    disk: { type: "string" },
    out: { type: "string" },
  });
  const [id] = requirePositional("restore", positionals, "POINT");
  if (!values.out) throw new SnapvisorError("USAGE", "restore: --out FILE|- is required");
  const out = values.out;
  return withRepository(io, values.repo, "read", "restore", async (repo) => {
    const ref = await repo.findPoint(id!);
    const manifest = await repo.readManifest(ref);
    const diskKey = pickDisk("restore", manifest, values.disk);
    const signal = io.signal;
    if (out === "-") {
      await restoreToStream(repo, ref, diskKey, io.stdout, signal ? { signal } : {});
      return ExitCode.ok;
    }
    const result = await restoreToFile(repo, ref, diskKey, out, signal ? { signal } : {});
    io.stderr.write(
      `Restored disk ${diskKey} of point ${ref.pointId} to ${out}: ${formatBytes(result.capacity)}, ` +
        `${result.chunksRestored} chunks written, ${result.zeroChunks} left as holes\n`,
    );
    return ExitCode.ok;
  });
}
