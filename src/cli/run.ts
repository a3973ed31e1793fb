import { SnapvisorError, messageOf } from "../domain/errors.js";
import { ExitCode, type CliIo, type Command } from "./command.js";
import { commands } from "./commands/index.js";

/** Codes that mean the user asked for something malformed: exit 2 rather than 1. */
const usageCodes = new Set([
  "USAGE",
  "CONFIG_INVALID",
  "CONFIG_UNREADABLE",
  "SECRET_UNAVAILABLE",
  "SCHEDULE_INVALID",
  "EXTENTS_INVALID",
  "INVALID_ID",
]);

function findCommand(argv: readonly string[]): { command: Command; rest: readonly string[] } | undefined {
  let best: { command: Command; rest: readonly string[] } | undefined;
  for (const command of commands) {
    const n = command.path.length;
    if (argv.length >= n && command.path.every((w, i) => argv[i] === w)) {
      if (!best || n > best.command.path.length) best = { command, rest: argv.slice(n) };
    }
  }
  return best;
}

function helpText(): string {
  const lines = ["snapvisor: agentless protection of vSphere and Hyper-V virtual machines", "", "Commands:"];
  for (const c of commands) lines.push(`  ${c.usage}`, `      ${c.summary}`);
  lines.push("", "Exit codes: 0 ok, 1 failed, 2 usage or config error, 3 done with warnings.");
  return lines.join("\n") + "\n";
}

/** Runs one CLI invocation and returns its exit code; never throws. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
    io.stdout.write(helpText());
    return argv.length === 0 ? ExitCode.usage : ExitCode.ok;
  }
  const found = findCommand(argv);
  if (!found) {
    io.stderr.write(`snapvisor: unknown command "${argv.join(" ")}"; run "snapvisor --help"\n`);
    return ExitCode.usage;
  }
  if (found.rest.includes("--help")) {
    io.stdout.write(`usage: snapvisor ${found.command.usage}\n${found.command.summary}\n`);
    return ExitCode.ok;
  }
  try {
    return await found.command.run(found.rest, io);
  } catch (err) {
    if (err instanceof SnapvisorError) {
      const code: string = (err as SnapvisorError).code;
      io.stderr.write(`snapvisor: ${err.message} [${code}]\n`);
      return usageCodes.has(code) ? ExitCode.usage : ExitCode.failed;
    }
    io.stderr.write(`snapvisor: unexpected error: ${messageOf(err)}\n`);
    if (err instanceof Error && err.stack) io.stderr.write(String(err.stack) + "\n");
    return ExitCode.failed;
  }
}

export { parseCommandArgs } from "./args.js";
