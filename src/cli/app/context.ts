/**
 * What the controller commands share: the config (validated once), a pino logger on stderr with
 * secrets redacted, the repository under a lock, and an abort signal that SIGINT/SIGTERM trigger so
 * a job stops starting VMs and still removes its snapshots.
 */
import { setMaxListeners } from "node:events";
import { resolve } from "node:path";
import { loadConfig, resolveSecret } from "../../controller/config.js";
import type { Config } from "../../controller/config-schema.js";
import type { Logger } from "../../domain/ports.js";
import type { LockMode } from "../../repository/locks.js";
import { openLocalRepository, type OpenedRepository } from "../../repository/open.js";
import type { CliIo } from "../command.js";
import { createLogger, type LogLevel } from "../logger.js";
import { abortOnSignals } from "../signals.js";
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

/**
 * An abort signal for SIGINT/SIGTERM (or the one the caller injected, in tests): the first signal
 * aborts, a second exits at once with 130.
 */
export function interruptSignal(io: CliIo, what?: string): { signal: AbortSignal; dispose(): void } {
  const abort = io.signal
    ? { signal: io.signal, dispose() {} }
    : abortOnSignals(process, {
        onFirst: (name) =>
          void io.stderr.write(
            `\nsnapvisor: ${name}: ${what ?? "stopping; snapshots already taken are being removed (again to stop at once)"}\n`,
          ),
        onForce: () => process.exit(130),
      });
  // Every running VM, wait and read listens to this one signal: dozens of listeners are expected.
  setMaxListeners(1000, abort.signal);
  return abort;
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
