import { createRequire } from "node:module";
import type { z as Zod } from "zod";

/**
 * zod for the repository's own records, loaded on first use. Every repository command reads a
 * config, locks and (mostly) manifests, and importing zod costs more than the rest of a small
 * incremental backup (docs/cli-startup.md): the records are first checked by plain code that
 * accepts exactly their usual shape, and zod, still the definition of each record and the author of
 * every refusal, is loaded only when that check does not pass (a damaged record, or one written by
 * another version). Tests hold each plain check to its schema (test/repository/record-checks.test.ts).
 *
 * Loaded synchronously (the parsers are synchronous), through zod's CommonJS build.
 */
export type Z = typeof Zod;

let loaded: Z | undefined;

export function zod(): Z {
  loaded ??= (createRequire(import.meta.url)("zod") as { z: Z }).z;
  return loaded;
}

/** A schema built from zod on first use. */
export function lazySchema<T>(build: (z: Z) => T): () => T {
  let schema: T | undefined;
  return () => (schema ??= build(zod()));
}
