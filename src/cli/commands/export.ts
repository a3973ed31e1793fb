import { stat } from "node:fs/promises";
import { SnapvisorError } from "../../domain/errors.js";
import { parseSize } from "../../repository/config.js";
import { exportDisk, type ExportFormat } from "../../disk/export.js";
import { PointDiskSource } from "../../repository/point-source.js";
import { ExitCode, type Command } from "../command.js";
import { formatBytes } from "../format.js";
import { parseCommandArgs } from "../run.js";
import { requirePositional, withRepository } from "./repo-context.js";

const FORMATS: Readonly<Record<string, ExportFormat>> = {
  raw: "raw",
  vmdk: "vmdk",
  "vmdk-stream": "vmdk",
  "vmdk-sparse": "vmdk-sparse",
  vhdx: "vhdx",
};

export const exportPoint: Command = {
  path: ["export"],
  usage:
    "export POINT --repo DIR [--disk KEY] --format raw|vmdk|vmdk-sparse|vhdx --out FILE [--vhdx-block-size SIZE]",
  summary:
    "Export a disk of a recovery point as a sparse raw image, VMDK (streamOptimized, or monolithicSparse) or dynamic VHDX.",
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("export", args, {
      repo: { type: "string" },
      disk: { type: "string" },
      format: { type: "string" },
      out: { type: "string" },
      "vhdx-block-size": { type: "string" },
    });
    const blockSize =
      values["vhdx-block-size"] === undefined ? undefined : parseSize(values["vhdx-block-size"]);
    const [id] = requirePositional("export", positionals, "POINT");
    const format = FORMATS[values.format ?? ""];
    if (!format) {
      throw new SnapvisorError(
        "USAGE",
        `export: --format must be one of ${Object.keys(FORMATS).join(", ")}, got "${values.format ?? ""}"`,
      );
    }
    if (!values.out) throw new SnapvisorError("USAGE", "export: --out FILE is required");
    const out = values.out;
    if (await stat(out).catch(() => undefined))
      throw new SnapvisorError("USAGE", `export: ${out} already exists`);
    return withRepository(io, values.repo, "read", "export", async (repo) => {
      const ref = await repo.findPoint(id!);
      const manifest = await repo.readManifest(ref);
      const diskKey = values.disk ?? (manifest.disks.length === 1 ? manifest.disks[0]!.key : undefined);
      if (!diskKey) {
        throw new SnapvisorError(
          "USAGE",
          `export: point has disks ${manifest.disks.map((d) => d.key).join(", ")}: pick one with --disk`,
        );
      }
      const source = await PointDiskSource.open(repo, ref, diskKey, io.signal ? { signal: io.signal } : {});
      try {
        const result = await exportDisk(source, out, {
          format,
          ...(blockSize === undefined ? {} : { vhdxBlockSize: blockSize }),
          ...(io.signal ? { signal: io.signal } : {}),
        });
        io.stderr.write(
          `Exported disk ${diskKey} of point ${ref.pointId} to ${out} (${values.format}): ` +
            `${formatBytes(source.capacity)} disk, ${formatBytes(result.dataBytes)} of data\n`,
        );
      } finally {
        await source.close();
      }
      return ExitCode.ok;
    });
  },
};
