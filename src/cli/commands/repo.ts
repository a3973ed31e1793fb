import { resolve } from "node:path";
import { mkdir } from "node:fs/promises";
import { SnapvisorError } from "../../domain/errors.js";
import { parseRepoConfig, parseSize } from "../../repository/config.js";
import { breakLocks } from "../../repository/locks.js";
import { LocalStorage } from "../../repository/local-storage.js";
import { CONFIG_KEY, Repository } from "../../repository/repository.js";
import { ExitCode, type CliIo } from "../command.js";
import { formatBytes } from "../format.js";
import { passphraseSource } from "../passphrase.js";
import { parseCommandArgs } from "../args.js";
import { requirePositional } from "./repo-context.js";

export async function repoInit(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs("repo init", args, {
    "chunk-size": { type: "string" },
    encrypt: { type: "boolean" },
    like: { type: "string" },
  });
  const [dir] = requirePositional("repo init", positionals, "DIR");
  const chunkSize = values["chunk-size"] === undefined ? undefined : parseSize(values["chunk-size"]);
  const like = values.like === undefined ? undefined : await readLike(values.like);
  if (like && (values.encrypt || chunkSize !== undefined)) {
    throw new SnapvisorError(
      "USAGE",
      "repo init: --like takes chunk size and encryption from SRC; drop --chunk-size/--encrypt",
    );
  }
  let passphrase: string | undefined;
  if (values.encrypt || like?.encryption) {
    passphrase = await passphraseSource(io, { confirm: true })();
    if (passphrase === undefined) {
      throw new SnapvisorError(
        "PASSPHRASE_REQUIRED",
        "repo init --encrypt: set SNAPVISOR_PASSPHRASE or run on a terminal",
      );
    }
  }
  const where = resolve(dir!);
  await mkdir(where, { recursive: true });
  const repo = await Repository.init(new LocalStorage(where), {
    ...(chunkSize === undefined ? {} : { chunkSize }),
    ...(passphrase === undefined ? {} : { passphrase }),
    ...(like ? { like } : {}),
  });
  io.stdout.write(
    `Created repository ${repo.config.id} in ${where} (chunk size ${formatBytes(repo.chunkSize)}, ${
      repo.codec.encrypted ? "encrypted with AES-256-GCM" : "not encrypted"
    })\n`,
  );
  return ExitCode.ok;
}

/** The config of the repository to copy; its passphrase is checked when the keys are unwrapped. */
async function readLike(dir: string) {
  const where = resolve(dir);
  const bytes = await new LocalStorage(where).get(CONFIG_KEY);
  if (!bytes)
    throw new SnapvisorError("NOT_A_REPOSITORY", `repo init --like: ${where} is not a snapvisor repository`);
  return parseRepoConfig(bytes, where);
}

export async function repoUnlock(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values } = parseCommandArgs("repo unlock", args, {
    repo: { type: "string" },
    all: { type: "boolean" },
  });
  if (!values.repo) throw new SnapvisorError("USAGE", "repo unlock: --repo DIR is required");
  const storage = new LocalStorage(resolve(values.repo));
  // Only "is it a repository" matters here; the keys are not needed to remove locks.
  const config = await storage.get(CONFIG_KEY);
  if (!config)
    throw new SnapvisorError("NOT_A_REPOSITORY", `${resolve(values.repo)} is not a snapvisor repository`);
  parseRepoConfig(config, resolve(values.repo));
  const removed = await breakLocks(storage, { all: values.all === true });
  await storage.cleanTemporary(removed.map((l) => l.id));
  for (const l of removed)
    io.stdout.write(
      `removed ${l.mode} lock of "${l.command}" (pid ${l.pid} on ${l.host}, since ${l.createdAt})\n`,
    );
  if (removed.length === 0) io.stdout.write("no stale locks\n");
  return ExitCode.ok;
}
