import {
  createCipheriv,
  createDecipheriv,
  randomBytes,
  scrypt as scryptCb,
  type ScryptOptions,
} from "node:crypto";
import { promisify } from "node:util";
import type { EncryptionConfig } from "./config.js";
import { repoError } from "./errors.js";

const scrypt = promisify(scryptCb) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: ScryptOptions,
) => Promise<Buffer>;

/** The two secrets of an encrypted repository: chunks are sealed with `dataKey`, named with `idKey`. */
export interface RepoKeys {
  readonly dataKey: Buffer;
  readonly idKey: Buffer;
}

/** scrypt cost: N=2^15, r=8 is ~32 MiB and ~0.1 s here; stored in the config so it can be raised. */
const KDF_DEFAULTS = { N: 2 ** 15, r: 8, p: 1 } as const;
const WRAP_AAD = Buffer.from("snapvisor-repository-keys-v1");

async function deriveKek(passphrase: string, kdf: EncryptionConfig["kdf"]): Promise<Buffer> {
  return scrypt(passphrase, Buffer.from(kdf.salt, "base64"), 32, {
    N: kdf.N,
    r: kdf.r,
    p: kdf.p,
    maxmem: 256 * kdf.N * kdf.r + 1024 * 1024,
  });
}

/** Creates fresh keys and the config section that holds them wrapped under the passphrase. */
export async function createEncryption(
  passphrase: string,
): Promise<{ keys: RepoKeys; config: EncryptionConfig }> {
  if (passphrase.length === 0) throw repoError("PASSPHRASE_REQUIRED", "The passphrase must not be empty");
  const keys = { dataKey: randomBytes(32), idKey: randomBytes(32) };
  const kdf = { name: "scrypt" as const, salt: randomBytes(16).toString("base64"), ...KDF_DEFAULTS };
  const kek = await deriveKek(passphrase, kdf);
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", kek, iv).setAAD(WRAP_AAD);
  const data = Buffer.concat([cipher.update(Buffer.concat([keys.dataKey, keys.idKey])), cipher.final()]);
  return {
    keys,
    config: {
      cipher: "aes-256-gcm",
      kdf,
      wrappedKeys: {
        iv: iv.toString("base64"),
        tag: cipher.getAuthTag().toString("base64"),
        data: data.toString("base64"),
      },
    },
  };
}

/** Unwraps the keys; a wrong passphrase fails the GCM tag check and is reported as such. */
export async function openEncryption(passphrase: string, config: EncryptionConfig): Promise<RepoKeys> {
  const kek = await deriveKek(passphrase, config.kdf);
  const decipher = createDecipheriv("aes-256-gcm", kek, Buffer.from(config.wrappedKeys.iv, "base64"))
    .setAAD(WRAP_AAD)
    .setAuthTag(Buffer.from(config.wrappedKeys.tag, "base64"));
  let plain: Buffer;
  try {
    plain = Buffer.concat([
      decipher.update(Buffer.from(config.wrappedKeys.data, "base64")),
      decipher.final(),
    ]);
  } catch (err) {
    throw repoError("WRONG_PASSPHRASE", "Wrong passphrase for this repository (the key check failed)", {
      cause: err,
    });
  }
  if (plain.length !== 64) throw repoError("CONFIG_CORRUPT", "Repository key material has the wrong length");
  return { dataKey: plain.subarray(0, 32), idKey: plain.subarray(32, 64) };
}
