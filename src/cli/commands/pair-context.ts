import { resolve } from "node:path";
import { SnapvisorError } from "../../domain/errors.js";
import { openLocalRepository, type OpenedRepository } from "../../repository/open.js";
import type { Repository } from "../../repository/repository.js";
import type { CliIo } from "../command.js";
import { passphraseSource } from "../passphrase.js";

/**
 * The target's passphrase: SNAPVISOR_TARGET_PASSPHRASE, else the source's. Repositories made with
 * `repo init --like` share the wrapped keys, hence the passphrase.
 */
export function targetPassphrase(io: CliIo): () => Promise<string | undefined> {
  const own = io.env["SNAPVISOR_TARGET_PASSPHRASE"];
  return own === undefined ? passphraseSource(io) : async () => own;
}

export async function openTarget(io: CliIo, dir: string, command: string): Promise<OpenedRepository> {
  const opened = await openLocalRepository(dir, {
    mode: "backup",
    command,
    passphrase: targetPassphrase(io),
  });
  for (const broken of opened.brokeDead)
    io.stderr.write(`snapvisor: removed the stale ${broken} in ${resolve(dir)}: its process is gone\n`);
  return opened;
}

/**
 * Runs `fn` with the source open under a `read` lock and the target under a `backup` lock (a
 * replication writes into the target like a backup does); both are always released.
 */
export async function withPair<T>(
  io: CliIo,
  from: string | undefined,
  to: string | undefined,
  command: string,
  fn: (source: Repository, target: Repository) => Promise<T>,
): Promise<T> {
  if (!from || !to) throw new SnapvisorError("USAGE", `${command}: --from SRC and --to DST are required`);
  const source = await openLocalRepository(from, { mode: "read", command, passphrase: passphraseSource(io) });
  try {
    const target = await openTarget(io, to, command);
    try {
      return await fn(source.repo, target.repo);
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}
