/**
 * Reading the config file: YAML or JSON text -> validated once with zod -> deep-frozen `Config`.
 * Every problem is reported at once, each as `path: what was expected, got VALUE`. Values under
 * secret-looking keys are never echoed.
 */
import { readFile } from "node:fs/promises";
import { parse as parseYaml, YAMLParseError } from "yaml";
import type { z } from "zod";
import { messageOf } from "../domain/errors.js";
import type { RetentionPolicy } from "../domain/retention.js";
import { configSchema, type Config, type ProtectionGroup, type SecretRef } from "./config-schema.js";
import { ControllerError } from "./errors.js";

export type {
  Config,
  ConfigInput,
  ProtectionGroup,
  GroupPolicy,
  Limits,
  SecretRef,
} from "./config-schema.js";

const secretKey = /pass(word|phrase)|secret|token/i;

/** `protectionGroups[1].policy.consistency` from a zod path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? String(p) : `.${String(p)}`;
  return out === "" ? "(root)" : out;
}

function shown(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "string")
    return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (Array.isArray(value)) return "a list";
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  return typeof value === "number" || typeof value === "boolean" ? String(value) : typeof value;
}

function expectation(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_value":
      return `expected one of ${issue.values.map((v) => String(v)).join("|")}`;
    case "invalid_type":
      return issue.input === undefined ? `required (${issue.expected})` : `expected ${issue.expected}`;
    case "unrecognized_keys":
      return `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
    case "too_small":
      return issue.origin === "array" ? `expected at least ${String(issue.minimum)} item(s)` : issue.message;
    default:
      return issue.message.replace(/^Invalid input: /, "");
  }
}

/** One line per issue; secrets' values are replaced by "(hidden)". */
export function formatIssue(issue: z.core.$ZodIssue): string {
  const where = formatPath(issue.path);
  const what = expectation(issue);
  if (issue.code === "unrecognized_keys" || (issue.code === "invalid_type" && issue.input === undefined)) {
    return `${where}: ${what}`;
  }
  const secret = issue.path.some((p) => typeof p === "string" && secretKey.test(p));
  return `${where}: ${what}, got ${secret && typeof issue.input === "string" ? "(hidden)" : shown(issue.input)}`;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Validates an already-parsed document. Throws CONFIG_INVALID listing every issue. */
export function validateConfig(document: unknown, source = "config"): Config {
  const result = configSchema.safeParse(document, { reportInput: true });
  if (!result.success) {
    const lines = result.error.issues.map(formatIssue);
    throw new ControllerError("CONFIG_INVALID", `Invalid ${source}:\n  ${lines.join("\n  ")}`, {
      details: { source, issues: lines },
    });
  }
  return deepFreeze(result.data);
}

/** Parses YAML (a superset of JSON) or strict JSON text, then validates it. */
export function parseConfig(
  text: string,
  options: { format?: "yaml" | "json"; source?: string } = {},
): Config {
  const source = options.source ?? "config";
  let document: unknown;
  try {
    document = options.format === "json" ? JSON.parse(text) : parseYaml(text, { prettyErrors: true });
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : "";
    throw new ControllerError(
      "CONFIG_UNREADABLE",
      `Cannot parse ${source}${where}: ${messageOf(err).split("\n")[0] ?? ""}`,
      {
        cause: err,
        details: { source },
      },
    );
  }
  return validateConfig(document, source);
}

/** Reads and validates a config file; `.json` is parsed as JSON, anything else as YAML. */
export async function loadConfig(file: string, options: { signal?: AbortSignal } = {}): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, { encoding: "utf8", ...(options.signal ? { signal: options.signal } : {}) });
  } catch (err) {
    throw new ControllerError("CONFIG_UNREADABLE", `Cannot read config file "${file}": ${messageOf(err)}`, {
      cause: err,
      details: { file },
    });
  }
  return parseConfig(text, {
    format: file.endsWith(".json") ? "json" : "yaml",
    source: `config file "${file}"`,
  });
}

/** A group's retention in the terms of the domain's `selectForRetention()`. */
export function retentionPolicy(group: Pick<ProtectionGroup, "policy">): RetentionPolicy {
  const r = group.policy.retention;
  return {
    keepLast: r.keepLast,
    keepDaily: r.daily,
    keepWeekly: r.weekly,
    keepMonthly: r.monthly,
    keepYearly: r.yearly,
  };
}

/** Where secrets come from, injected so nothing deep in the code reads `process.env`. */
export interface SecretSources {
  readonly env: Readonly<Record<string, string | undefined>>;
  readFile(path: string): Promise<string>;
}

/**
 * Resolves a secret reference when a connection is made. A file's trailing newline is dropped
 * (what `echo secret > file` leaves); an empty secret is an error.
 */
export async function resolveSecret(ref: SecretRef, sources: SecretSources, what: string): Promise<string> {
  let value: string;
  if ("env" in ref) {
    const v = sources.env[ref.env];
    if (v === undefined)
      throw new ControllerError(
        "SECRET_UNAVAILABLE",
        `Cannot read ${what}: environment variable ${ref.env} is not set`,
      );
    value = v;
  } else {
    try {
      value = (await sources.readFile(ref.file)).replace(/\r?\n$/, "");
    } catch (err) {
      throw new ControllerError(
        "SECRET_UNAVAILABLE",
        `Cannot read ${what} from file "${ref.file}": ${messageOf(err)}`,
        { cause: err },
      );
    }
  }
  if (value === "")
    throw new ControllerError("SECRET_UNAVAILABLE", `Cannot use ${what}: the secret is empty`);
  return value;
}
