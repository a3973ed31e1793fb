import type { Command } from "../command.js";

/** Every CLI command; `run.ts` picks the longest matching path. */
export const commands: readonly Command[] = [];
