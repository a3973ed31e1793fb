import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { SnapvisorError } from "../../domain/errors.js";
import { openDiskImage } from "../../disk/open-image.js";
import { parseExtentsFile } from "../../repository/extents.js";
import { writePoint } from "../../repository/writer.js";
import { ExitCode, type CliIo } from "../command.js";
import { formatBytes, jsonLine } from "../format.js";
import { parseCommandArgs } from "../args.js";
import { requirePositional, withRepository } from "./repo-context.js";

export async function backupImage(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs("backup image", args, {
    repo: { type: "string" },
    machine: { type: "string" },
    name: { type: "string" },
    disk: { type: "string" },
    changed: { type: "string" },
    "change-id": { type: "string" },
    json: { type: "boolean" },
  });
  const [file] = requirePositional("backup image", positionals, "FILE");
  if (!values.machine) throw new SnapvisorError("USAGE", "backup image: --machine ID is required");
  const source = await openDiskImage(file!);
  try {
    const changed =
      values.changed === undefined
        ? ("all" as const)
        : parseExtentsFile(await readFile(values.changed, "utf8"), source.capacity, values.changed);
    const { ref, manifest } = await withRepository(io, values.repo, "backup", "backup image", (repo) =>
      writePoint(repo, {
        machine: { id: values.machine!, name: values.name ?? basename(file!), hypervisor: "image" },
        disks: [
          {
            key: values.disk ?? "disk0",
            capacity: source.capacity,
            source,
            changed,
            changeId: values["change-id"] ?? null,
          },
        ],
        consistency: { expected: "crash", achieved: "crash", reason: "image file: no guest to quiesce" },
      }),
    );
    if (values.json) io.stdout.write(jsonLine({ event: "point", ...ref, manifest }));
    else {
      const d = manifest.disks[0]!;
      io.stdout.write(
        `Point ${ref.pointId} (${manifest.kind}${manifest.parent ? ` of ${manifest.parent}` : ""}) of machine ${ref.machineId}: ` +
          `read ${formatBytes(manifest.stats.bytesRead)} of ${formatBytes(d.capacity)}, new ${formatBytes(manifest.stats.bytesNew)} ` +
          `(stored ${formatBytes(manifest.stats.bytesStored)})${d.fullReason ? `; full read: ${d.fullReason}` : ""}\n`,
      );
    }
    return ExitCode.ok;
  } finally {
    await source.close();
  }
}
