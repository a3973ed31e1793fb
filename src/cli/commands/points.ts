import type { Manifest } from "../../repository/manifest.js";
import { orphanReport } from "../../repository/orphans.js";
import type { Repository } from "../../repository/repository.js";
import { ExitCode, type CliIo } from "../command.js";
import { formatBytes, jsonLine, table } from "../format.js";
import { parseCommandArgs } from "../args.js";
import { requirePositional, withRepository } from "./repo-context.js";

async function manifests(repo: Repository, machine: string | undefined): Promise<Manifest[]> {
  const out: Manifest[] = [];
  for (const ref of await repo.listPoints(machine)) out.push(await repo.readManifest(ref));
  return out;
}

/** "ok", or "orphaned (N missing)" for a point whose chunks are not all here (docs/replication.md). */
function stateText(missing: ReadonlyMap<string, number>, m: Manifest): string {
  const n = missing.get(`${m.machine.id}/${m.id}`) ?? 0;
  return n > 0 ? `orphaned (${n} missing)` : "ok";
}

/** Chain depth: 0 for a base, parent's depth + 1 otherwise (a missing parent shows as "?"). */
function depths(list: readonly Manifest[]): Map<string, string> {
  const byId = new Map(list.map((m) => [m.id, m]));
  const out = new Map<string, string>();
  const depth = (m: Manifest, seen = 0): string => {
    if (!m.parent) return "0";
    const p = byId.get(m.parent);
    if (!p || seen > list.length) return "?";
    const d = depth(p, seen + 1);
    return d === "?" ? "?" : String(Number(d) + 1);
  };
  for (const m of list) out.set(m.id, depth(m));
  return out;
}

function consistencyText(m: Manifest): string {
  const c = m.consistency;
  return c.expected === c.achieved ? c.achieved : `${c.achieved} (expected ${c.expected})`;
}

export async function pointsList(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values } = parseCommandArgs("points list", args, {
    repo: { type: "string" },
    machine: { type: "string" },
    check: { type: "boolean" },
    json: { type: "boolean" },
  });
  // Replicated machines are checked for orphans; --check looks up every point's chunks.
  const { list, missing } = await withRepository(io, values.repo, "read", "points list", async (repo) => ({
    list: await manifests(repo, values.machine),
    missing: await orphanReport(repo, await repo.listPoints(values.machine), {
      all: values.check === true,
    }),
  }));
  if (values.json) {
    for (const m of list)
      io.stdout.write(
        jsonLine({ ...summary(m), missingChunks: missing.get(`${m.machine.id}/${m.id}`) ?? 0 }),
      );
    return ExitCode.ok;
  }
  const depth = depths(list);
  const rows = list.map((m) => [
    m.id,
    `${m.machine.id}${m.machine.name !== m.machine.id ? ` (${m.machine.name})` : ""}`,
    m.kind === "base" ? "base" : `incr+${depth.get(m.id)}`,
    m.parent ?? "-",
    m.snapshotAt.replace(/\.\d+Z$/, "Z"),
    formatBytes(m.disks.reduce((n, d) => n + d.capacity, 0)),
    formatBytes(m.stats.bytesRead),
    formatBytes(m.stats.bytesStored),
    consistencyText(m),
    stateText(missing, m),
  ]);
  io.stdout.write(
    table(
      ["POINT", "MACHINE", "KIND", "PARENT", "SNAPSHOT", "SIZE", "READ", "STORED", "CONSISTENCY", "STATE"],
      rows,
    ),
  );
  return ExitCode.ok;
}

function summary(m: Manifest) {
  return {
    point: m.id,
    machine: m.machine,
    kind: m.kind,
    parent: m.parent,
    snapshotAt: m.snapshotAt,
    consistency: m.consistency,
    disks: m.disks.map((d) => ({
      key: d.key,
      capacity: d.capacity,
      read: d.read,
      fullReason: d.fullReason,
      changeId: d.changeId,
    })),
    stats: m.stats,
  };
}

export async function pointsShow(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs("points show", args, {
    repo: { type: "string" },
    json: { type: "boolean" },
  });
  const [id] = requirePositional("points show", positionals, "POINT");
  const m = await withRepository(io, values.repo, "read", "points show", async (repo) =>
    repo.readManifest(await repo.findPoint(id!)),
  );
  if (values.json) {
    io.stdout.write(jsonLine(m));
    return ExitCode.ok;
  }
  const lines = [
    `point        ${m.id}`,
    `machine      ${m.machine.id} (${m.machine.name}, ${m.machine.hypervisor})`,
    `kind         ${m.kind}${m.parent ? `, parent ${m.parent}` : ""}`,
    `snapshot     ${m.snapshotAt}`,
    `written      ${m.startedAt} .. ${m.completedAt} (${(m.stats.durationMs / 1000).toFixed(1)} s)`,
    `consistency  expected ${m.consistency.expected}, achieved ${m.consistency.achieved}${m.consistency.reason ? `: ${m.consistency.reason}` : ""}`,
    `read         ${formatBytes(m.stats.bytesRead)}, new ${formatBytes(m.stats.bytesNew)}, stored ${formatBytes(m.stats.bytesStored)}, dedup ${m.stats.dedupRatio ?? "-"}`,
    "",
  ];
  io.stdout.write(lines.join("\n"));
  io.stdout.write(
    table(
      ["DISK", "CAPACITY", "READ", "CHUNKS", "ZERO", "CHANGE ID", "WHY FULL"],
      m.disks.map((d) => [
        d.key,
        formatBytes(d.capacity),
        `${d.read} ${formatBytes(d.stats.bytesRead)}`,
        String(d.index.chunks),
        String(d.index.zeroChunks),
        d.changeId ?? "-",
        d.fullReason ?? "",
      ]),
    ),
  );
  return ExitCode.ok;
}
