/**
 * What the controller commands share: the config (validated once), a pino logger on stderr with
 * secrets redacted, the repository under a lock, and an abort signal that SIGINT/SIGTERM trigger so
 * a job stops starting VMs and still removes its snapshots.
 */
import { resolve } from "node:path";
import { loadConfig, resolveSecret } from "../../controller/config.js";
import type { Config } from "../../controller/config-schema.js";
import type { Logger } from "../../domain/ports.js";
import type { LockMode } from "../../repository/locks.js";
import { openLocalRepository, type OpenedRepository } from "../../repository/open.js";
import type { CliIo } from "../command.js";
import { createLogger, type LogLevel } from "../logger.js";
import { secretSources } from "./sessions.js";

export interface ControllerContext {
  readonly config: Config;
  readonly logger: Logger;
  readonly signal: AbortSignal;
}

const LEVELS = new Set<LogLevel>(["debug", "info", "warn", "error", "silent"]);

export function cliLogger(io: CliIo, fallback: LogLevel = "warn"): Logger {
  const wanted = io.env["SNAPVISOR_LOG_LEVEL"] as LogLevel | undefined;
  return createLogger({ level: wanted && LEVELS.has(wanted) ? wanted : fallback, destination: io.stderr });
}

/** An abort signal for SIGINT/SIGTERM (or the one the caller injected, in tests). */
export function interruptSignal(
  io: CliIo,
  what = "stopping; snapshots already taken are being removed",
): { signal: AbortSignal; dispose(): void } {
  if (io.signal) return { signal: io.signal, dispose() {} };
  const controller = new AbortController();
  const onSignal = (name: string) => () => {
    io.stderr.write(`\nsnapvisor: ${name}: ${what}\n`);
    controller.abort(new Error(`interrupted by ${name}`));
  };
  const int = onSignal("SIGINT");
  const term = onSignal("SIGTERM");
  process.once("SIGINT", int);
  process.once("SIGTERM", term);
  return {
    signal: controller.signal,
    dispose() {
      process.off("SIGINT", int);
      process.off("SIGTERM", term);
    },
  };
}

export async function withControllerContext<T>(
  io: CliIo,
  configPath: string,
  fn: (ctx: ControllerContext) => Promise<T>,
): Promise<T> {
  const config = await loadConfig(configPath);
  const interrupt = interruptSignal(io);
  try {
    return await fn({ config, logger: cliLogger(io), signal: interrupt.signal });
  } finally {
    interrupt.dispose();
  }
}

/** The config's repository, opened under `mode`, with its passphrase from the config's secret. */
export async function openConfiguredRepository(
  io: CliIo,
  config: Config,
  mode: LockMode,
  command: string,
): Promise<OpenedRepository> {
  const secret = config.repository.passphrase;
  return openLocalRepository(resolve(config.repository.path), {
    mode,
    command,
    passphrase: async () =>
      secret
        ? resolveSecret(secret, secretSources(io.env), "repository.passphrase")
        : io.env["SNAPVISOR_PASSPHRASE"],
  });
}
