/**
 * `node --import <this module>` records every module the process loads, one URL or path a line, in
 * the file named by SNAPVISOR_LOAD_LOG: ES modules as the loader resolves them (a hook on the loader's
 * thread, record-loads-hooks.ts) and CommonJS modules from require's cache at exit, so a package
 * loaded through `require` (or one CommonJS file requiring another) shows too.
 */
import { appendFileSync } from "node:fs";
import { createRequire, register } from "node:module";
import { pathToFileURL } from "node:url";

const log = process.env["SNAPVISOR_LOAD_LOG"];
if (log) {
  register("./record-loads-hooks.js", import.meta.url);
  const cache = createRequire(import.meta.url).cache;
  process.on("exit", () => {
    const lines = Object.keys(cache).map((path) => pathToFileURL(path).href);
    if (lines.length > 0) appendFileSync(log, lines.join("\n") + "\n");
  });
}
