import { SnapvisorError } from "../../domain/errors.js";
import type { LockMode } from "../../repository/locks.js";
import type { Manifest } from "../../repository/manifest.js";
import { openLocalRepository } from "../../repository/open.js";
import type { Repository } from "../../repository/repository.js";
import type { CliIo } from "../command.js";
import { passphraseSource } from "../passphrase.js";

/** Runs `fn` with the repository at `dir` open under a lock; always releases it. */
export async function withRepository<T>(
  io: CliIo,
  dir: string | undefined,
  mode: LockMode,
  command: string,
  fn: (repo: Repository) => Promise<T>,
): Promise<T> {
  if (!dir) throw new SnapvisorError("USAGE", `${command}: --repo DIR is required`);
  const opened = await openLocalRepository(dir, { mode, command, passphrase: passphraseSource(io) });
  for (const broken of opened.brokeDead)
    io.stderr.write(`snapvisor: removed the stale ${broken}: its process is gone\n`);
  try {
    return await fn(opened.repo);
  } finally {
    await opened.close();
  }
}

export function requirePositional(
  command: string,
  positionals: readonly string[],
  what: string,
  count = 1,
): string[] {
  if (positionals.length !== count) {
    throw new SnapvisorError(
      "USAGE",
      `${command}: expected ${what}, got ${positionals.length === 0 ? "nothing" : positionals.join(" ")}`,
    );
  }
  return [...positionals];
}

export function intOption(command: string, name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new SnapvisorError("USAGE", `${command}: --${name} expects a whole number, got "${value}"`);
  return n;
}

/** The disk a command works on: the one given, or the point's only disk. */
export function pickDisk(command: string, manifest: Manifest, disk: string | undefined): string {
  const key = disk ?? (manifest.disks.length === 1 ? manifest.disks[0]?.key : undefined);
  if (key === undefined) {
    throw new SnapvisorError(
      "USAGE",
      `${command}: point has disks ${manifest.disks.map((d) => d.key).join(", ")}: pick one with --disk`,
    );
  }
  return key;
}
