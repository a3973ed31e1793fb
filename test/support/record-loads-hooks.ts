/** Loader hooks of record-loads.ts: appends each resolved module URL to SNAPVISOR_LOAD_LOG. */
import { appendFileSync } from "node:fs";
import type { ResolveHook } from "node:module";

const log = process.env["SNAPVISOR_LOAD_LOG"];

export const resolve: ResolveHook = async (specifier, context, nextResolve) => {
  const result = await nextResolve(specifier, context);
  if (log) appendFileSync(log, result.url + "\n");
  return result;
};
