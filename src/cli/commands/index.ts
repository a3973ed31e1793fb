import type { Command, CommandRun } from "../command.js";

/**
 * A table entry whose implementation is imported only when the command runs: `snapvisor --help` and
 * `snapvisor backup image` then load none of the simulators, adapters or controller
 * (docs/cli-startup.md). Each `load` names its module literally so the compiler checks the export.
 */
function lazy(
  path: readonly string[],
  usage: string,
  summary: string,
  load: () => Promise<CommandRun>,
): Command {
  return {
    path,
    usage,
    summary,
    async run(args, io) {
      const run = await load();
      return run(args, io);
    },
  };
}

/** Every CLI command; `run.ts` picks the longest matching path. */
export const commands: readonly Command[] = [
  lazy(
    ["demo"],
    "demo [--dir DIR] [--keep]",
    "Start a simulated lab, back it up (full), write in the guests, back up again (incremental), verify, restore-check, and print a table.",
    async () => (await import("./demo.js")).demo,
  ),
  lazy(
    ["sim"],
    "sim [--scenario FILE]... [--dir DIR]",
    "Start the simulators (vSphere SOAP over HTTPS and ESXi SSH; a Hyper-V cluster's PowerShell and OpenSSH) from scenario files (one per kind, the lab's by default); print their endpoints as JSON; run until interrupted.",
    async () => (await import("./sim.js")).sim,
  ),
  lazy(
    ["inventory"],
    "inventory --config FILE [--json]",
    "List the VMs of every source: tools, power, last shutdown, the consistency decided and why, groups; shared disks and their VMs.",
    async () => (await import("./inventory.js")).inventory,
  ),
  lazy(
    ["backup"],
    "backup --config FILE [--group G]... [--vm NAME]... [--json]",
    "Back up the protection groups of a config now (all, or --group/--vm); prints every VM's outcome. Exit 0 ok, 1 failed, 3 warnings.",
    async () => (await import("./backup.js")).backup,
  ),
  lazy(
    ["run"],
    "run --config FILE",
    "Run the protection groups on their schedules until interrupted: one job per group at a time, job history as JSON lines, replication after each backup.",
    async () => (await import("./run.js")).run,
  ),
  lazy(
    ["repo", "init"],
    "repo init DIR [--chunk-size SIZE] [--encrypt] [--like SRC]",
    "Create a repository in DIR (encrypted with SNAPVISOR_PASSPHRASE or a prompted passphrase; --like SRC: same chunk size and keys, a replication target).",
    async () => (await import("./repo.js")).repoInit,
  ),
  lazy(
    ["repo", "unlock"],
    "repo unlock --repo DIR [--all]",
    "Remove locks left by processes that are gone (--all: every lock; only when nothing runs).",
    async () => (await import("./repo.js")).repoUnlock,
  ),
  lazy(
    ["backup", "image"],
    "backup image FILE --repo DIR --machine ID [--name NAME] [--disk KEY] [--changed EXTENTS.json] [--json]",
    "Back up a disk image as a recovery point; with --changed only the chunks those byte extents touch are read.",
    async () => (await import("./backup-image.js")).backupImage,
  ),
  lazy(
    ["points", "list"],
    "points list --repo DIR [--machine ID] [--check] [--json]",
    "List recovery points with their chains (base, incrementals, parents), sizes and consistency.",
    async () => (await import("./points.js")).pointsList,
  ),
  lazy(
    ["points", "show"],
    "points show POINT --repo DIR [--json]",
    "Show one recovery point: machine, parent, consistency and why, disks, change ids, stats.",
    async () => (await import("./points.js")).pointsShow,
  ),
  lazy(
    ["restore"],
    "restore POINT --repo DIR --disk KEY --out FILE|-",
    "Restore a disk of a recovery point as a sparse raw image (or to stdout with --out -).",
    async () => (await import("./restore.js")).restore,
  ),
  lazy(
    ["export"],
    "export POINT --repo DIR [--disk KEY] --format raw|vmdk|vmdk-sparse|vhdx --out FILE [--json]",
    "Export a disk of a recovery point as a sparse raw image, a VMDK (vmdk: streamOptimized, vmdk-sparse: monolithicSparse) or a dynamic VHDX.",
    async () => (await import("./export.js")).exportPoint,
  ),
  lazy(
    ["verify"],
    "verify --repo DIR [POINT...] [--json]",
    "Re-hash every chunk the points reference (all points by default); name each broken chunk and point.",
    async () => (await import("./verify.js")).verify,
  ),
  lazy(
    ["prune"],
    "prune --repo DIR [--keep-last N] [--keep-hourly N] [--keep-daily N] [--keep-weekly N] [--keep-monthly N] [--keep-yearly N] [--machine ID] [--dry-run] [--json]",
    "Remove recovery points the retention policy does not keep (per machine); chunks are freed by gc.",
    async () => (await import("./prune.js")).prune,
  ),
  lazy(
    ["gc"],
    "gc --repo DIR [--grace-minutes N] [--dry-run] [--json]",
    "Remove chunks no recovery point references (older than the grace period); safe beside running backups.",
    async () => (await import("./gc.js")).gc,
  ),
  lazy(
    ["replicate"],
    "replicate --from SRC --to DST [--machine ID]... [--since POINT] [--prefix P] [--repair] [--json]",
    "Copy recovery points to another repository: only chunks it lacks cross, checked on arrival, manifests last (resumable).",
    async () => (await import("./replicate.js")).replicate,
  ),
  lazy(
    ["replication", "setup"],
    "replication setup --from SRC --to DST [--machine ID]... [--paused] [--seed-drive] [--schedule S] [--prefix P]",
    "Set up replication SRC -> DST: after each backup by default or on --schedule; --seed-drive sends only later points.",
    async () => (await import("./replication.js")).replicationSetup,
  ),
  lazy(
    ["replication", "pause"],
    "replication pause --repo SRC --target ID [--machine ID]...",
    "Pause a replication (or some of its machines); nothing is sent until resumed.",
    async () => (await import("./replication.js")).replicationPause,
  ),
  lazy(
    ["replication", "resume"],
    "replication resume --repo SRC --target ID [--machine ID]...",
    "Resume a paused replication (or some of its machines).",
    async () => (await import("./replication.js")).replicationResume,
  ),
  lazy(
    ["replication", "run"],
    "replication run --repo SRC [--target ID] [--due] [--json]",
    "Run set-up replications now (--due: only those whose own schedule is due; for cron or a timer).",
    async () => (await import("./replication.js")).replicationRun,
  ),
  lazy(
    ["replication", "status"],
    "replication status --repo DIR [--json]",
    "Replications out of this repository (targets, pauses, seed, last run) and into it (sources, orphans).",
    async () => (await import("./replication.js")).replicationStatus,
  ),
  lazy(
    ["replication", "remove"],
    "replication remove --repo SRC --target ID",
    "Forget a replication (the target keeps what it received).",
    async () => (await import("./replication.js")).replicationRemove,
  ),
  lazy(
    ["seed", "export"],
    "seed export --repo SRC --out DIR [--machine ID]... [--max-size SIZE] [--json]",
    "Write recovery points as a seed drive (repository format; volumes DIR.1, DIR.2, ... of at most SIZE with --max-size).",
    async () => (await import("./seed.js")).seedExport,
  ),
  lazy(
    ["seed", "consume"],
    "seed consume --repo DST --from DIR [DIR...] [--prefix P] [--json]",
    "Import a seed drive (every volume), checking each file's digest; orphaned points become restorable.",
    async () => (await import("./seed.js")).seedConsume,
  ),
  lazy(
    ["seed", "abandon"],
    "seed abandon --repo SRC --target ID",
    "Give up the pending seed drive of a replication: older points never come; orphans are completed over the network.",
    async () => (await import("./seed.js")).seedAbandon,
  ),
];
