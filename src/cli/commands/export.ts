import { SnapvisorError } from "../../domain/errors.js";
import { exportDisk, type ExportFormat } from "../../disk/export.js";
import { openPointDisk } from "../../repository/point-disk.js";
import { ExitCode, type CliIo } from "../command.js";
import { formatBytes, jsonLine } from "../format.js";
import { parseCommandArgs } from "../args.js";
import { pickDisk, requirePositional, withRepository } from "./repo-context.js";

const FORMATS: Record<string, ExportFormat> = {
  raw: "raw",
  vmdk: "vmdk",
  "vmdk-stream": "vmdk",
  "vmdk-sparse": "vmdk-sparse",
  vhdx: "vhdx",
};

export async function exportPoint(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs("export", args, {
    repo: { type: "string" },
    disk: { type: "string" },
    format: { type: "string" },
    out: { type: "string" },
    json: { type: "boolean" },
  });
  const [id] = requirePositional("export", positionals, "POINT");
  const format = FORMATS[values.format ?? ""];
  if (format === undefined) {
    throw new SnapvisorError(
      "USAGE",
      `export: --format must be one of ${Object.keys(FORMATS).join(", ")}, not ${JSON.stringify(values.format ?? "")}`,
    );
  }
  if (!values.out || values.out === "-")
    throw new SnapvisorError("USAGE", "export: --out FILE is required (a new file)");
  const out = values.out;
  return withRepository(io, values.repo, "read", "export", async (repo) => {
    const ref = await repo.findPoint(id!);
    const manifest = await repo.readManifest(ref);
    const diskKey = pickDisk("export", manifest, values.disk);
    const disk = await openPointDisk(repo, ref, diskKey, io.signal);
    try {
      const result = await exportDisk(disk, out, { format, ...(io.signal ? { signal: io.signal } : {}) });
      if (values.json)
        io.stdout.write(
          jsonLine({
            event: "export",
            ...ref,
            disk: diskKey,
            format,
            out,
            capacity: disk.capacity,
            ...result,
          }),
        );
      else {
        io.stderr.write(
          `Exported disk ${diskKey} of point ${ref.pointId} to ${out} (${format}): ${formatBytes(disk.capacity)}, ` +
            `${formatBytes(result.dataBytes)} of data\n`,
        );
      }
      return ExitCode.ok;
    } finally {
      await disk.close();
    }
  });
}
