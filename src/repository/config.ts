import type { z } from "zod";
import { repoError } from "./errors.js";
import { lazySchema, type Z } from "./lazy-zod.js";
import { hasFields, isInt, isOneOf, isString } from "./record-checks.js";

/** The repository format this code writes; a higher version in a config is refused, never guessed at. */
export const FORMAT_VERSION = 1;
export const FORMAT_NAME = "snapvisor-repository";

export const MIN_CHUNK_SIZE = 64 * 1024;
export const MAX_CHUNK_SIZE = 16 * 1024 * 1024;
/** Chosen by `npm run bench` (README "Chunk size"): 4 MiB, now that incrementals store deltas. */
export const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024;

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

function schemas(z: Z) {
  const b64 = z.string().regex(B64, "base64");

  const encryption = z.object({
    cipher: z.literal("aes-256-gcm"),
    kdf: z.object({
      name: z.literal("scrypt"),
      salt: b64,
      N: z
        .number()
        .int()
        .min(1024)
        .max(2 ** 22),
      r: z.number().int().min(1).max(32),
      p: z.number().int().min(1).max(16),
    }),
    /** The data key and chunk-id key (64 bytes), AES-256-GCM sealed under the passphrase key. */
    wrappedKeys: z.object({ iv: b64, tag: b64, data: b64 }),
  });

  const config = z.object({
    format: z.literal(FORMAT_NAME),
    version: z.number().int().min(1),
    id: z.string().regex(/^[0-9a-f-]{36}$/),
    createdAt: z.string(),
    chunkSize: z
      .number()
      .int()
      .min(MIN_CHUNK_SIZE)
      .max(MAX_CHUNK_SIZE)
      .refine((n) => (n & (n - 1)) === 0, "a power of two"),
    /** sha256 of the plaintext, or hmac-sha256 under the id key when encrypted. */
    chunkId: z.enum(["sha256", "hmac-sha256"]),
    compression: z.object({ name: z.literal("zstd"), level: z.number().int().min(-7).max(19) }),
    encryption: encryption.nullable(),
  });
  return { encryption, config };
}

type Schemas = ReturnType<typeof schemas>;
export type RepoConfig = z.infer<Schemas["config"]>;
export type EncryptionConfig = z.infer<Schemas["encryption"]>;

/** The config's zod schema, built on first use (lazy-zod.ts). */
export const repoConfigSchema = lazySchema((z) => schemas(z).config);

const isBase64 = (v: unknown) => isString(v) && B64.test(v);

function isEncryption(e: unknown): boolean {
  if (!hasFields(e, ["cipher", "kdf", "wrappedKeys"])) return false;
  const { kdf, wrappedKeys } = e;
  return (
    e["cipher"] === "aes-256-gcm" &&
    hasFields(kdf, ["name", "salt", "N", "r", "p"]) &&
    kdf["name"] === "scrypt" &&
    isBase64(kdf["salt"]) &&
    isInt(kdf["N"], 1024, 2 ** 22) &&
    isInt(kdf["r"], 1, 32) &&
    isInt(kdf["p"], 1, 16) &&
    hasFields(wrappedKeys, ["iv", "tag", "data"]) &&
    Object.values(wrappedKeys).every(isBase64)
  );
}

/** The plain check of the fast path (lazy-zod.ts): the config as zod would return it, or undefined. */
export function checkRepoConfig(c: unknown): RepoConfig | undefined {
  const keys = ["format", "version", "id", "createdAt", "chunkSize", "chunkId", "compression", "encryption"];
  if (!hasFields(c, keys)) return undefined;
  const { chunkSize, compression, encryption } = c;
  const ok =
    c["format"] === FORMAT_NAME &&
    isInt(c["version"], 1) &&
    isString(c["id"]) &&
    /^[0-9a-f-]{36}$/.test(c["id"]) &&
    isString(c["createdAt"]) &&
    isInt(chunkSize, MIN_CHUNK_SIZE, MAX_CHUNK_SIZE) &&
    (chunkSize & (chunkSize - 1)) === 0 &&
    isOneOf(c["chunkId"], ["sha256", "hmac-sha256"]) &&
    hasFields(compression, ["name", "level"]) &&
    compression["name"] === "zstd" &&
    isInt(compression["level"], -7, 19) &&
    (encryption === null || isEncryption(encryption));
  return ok ? (c as RepoConfig) : undefined;
}

/** Parses config bytes; a version from the future is FORMAT_TOO_NEW, anything malformed CONFIG_CORRUPT. */
export function parseRepoConfig(bytes: Uint8Array, where: string): RepoConfig {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (err) {
    throw repoError("CONFIG_CORRUPT", `Repository config ${where} is not valid JSON (truncated or damaged)`, {
      cause: err,
    });
  }
  const version = (json as { version?: unknown } | null)?.version;
  if (typeof version === "number" && version > FORMAT_VERSION) {
    throw repoError(
      "FORMAT_TOO_NEW",
      `Repository ${where} has format version ${version}; this snapvisor reads up to ${FORMAT_VERSION}: upgrade snapvisor`,
      { details: { version, supported: FORMAT_VERSION } },
    );
  }
  const checked = checkRepoConfig(json);
  if (checked) return checked;
  const parsed = repoConfigSchema().safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.join(".") ?? "";
    throw repoError(
      "CONFIG_CORRUPT",
      `Repository config ${where} is invalid at "${path}": ${issue?.message}`,
      {
        details: { issues: parsed.error.issues.slice(0, 5) },
      },
    );
  }
  return parsed.data;
}

export function encodeRepoConfig(config: RepoConfig): Uint8Array {
  return Buffer.from(JSON.stringify(config, null, 2) + "\n", "utf8");
}

/** Parses "4M", "1MiB", "65536", "512k" into bytes. */
export function parseSize(text: string): number {
  const m = /^(\d+)\s*([kKmMgGtT]?)(i?[bB])?$/.exec(text.trim());
  if (!m) throw repoError("USAGE", `Invalid size ${JSON.stringify(text)}: expected e.g. 4M, 1MiB, 65536`);
  const unit = (m[2] ?? "").toLowerCase();
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[unit] ?? 1;
  return Number(m[1]) * mult;
}
