import { parseArgs, type ParseArgsConfig } from "node:util";
import { SnapvisorError, messageOf } from "../domain/errors.js";

/** parseArgs that turns its TypeErrors into a USAGE error naming the command. */
export function parseCommandArgs<T extends NonNullable<ParseArgsConfig["options"]>>(
  command: string,
  args: readonly string[],
  options: T,
) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new SnapvisorError("USAGE", `${command}: ${messageOf(err)}`, { cause: err });
  }
}
