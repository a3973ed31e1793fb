/**
 * A self-signed TLS certificate made at start-up (ECDSA P-256, SHA-256), DER built by hand: the
 * simulator ships no key material. The SHA-256 thumbprint is what clients pin.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, X509Certificate } from "node:crypto";
import { simError } from "./errors.js";

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const len =
    n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, content]);
}
const seq = (...parts: Buffer[]) => tlv(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]) => tlv(0x31, Buffer.concat(parts));
const oid = (hex: string) => tlv(0x06, Buffer.from(hex, "hex"));
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, "utf8"));

function utcTime(d: Date): Buffer {
  const p = (n: number) => String(n).padStart(2, "0");
  const s = `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  return tlv(0x17, Buffer.from(s, "latin1"));
}

const ECDSA_SHA256 = seq(oid("2a8648ce3d040302"));
const CN = "550403";
const SUBJECT_ALT_NAME = "551d11";

export interface SelfSigned {
  readonly certPem: string;
  readonly keyPem: string;
  /** SHA-256 of the DER certificate, colon-separated upper-case hex (vSphere's thumbprint style). */
  readonly thumbprint: string;
}

/** Makes a certificate for `commonName` valid for 127.0.0.1, ::1 and localhost from `now`. */
export function selfSignedCertificate(commonName: string, now: Date): SelfSigned {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const serial = randomBytes(16);
  // A DER INTEGER is minimal and, here, positive: the first byte neither 0x00 (which would be a
  // redundant leading zero, rejected by strict parsers about once in 128 certificates) nor >= 0x80.
  serial[0] = (serial[0]! & 0x3f) | 0x40;
  const name = seq(set(seq(oid(CN), utf8(commonName))));
  const altNames = seq(
    tlv(0x87, Buffer.from([127, 0, 0, 1])),
    tlv(0x87, Buffer.from("00000000000000000000000000000001", "hex")),
    tlv(0x82, Buffer.from("localhost", "latin1")),
  );
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))),
    tlv(0x02, serial),
    ECDSA_SHA256,
    name,
    seq(
      utcTime(new Date(now.getTime() - 86_400_000)),
      utcTime(new Date(now.getTime() + 10 * 365 * 86_400_000)),
    ),
    name,
    publicKey.export({ type: "spki", format: "der" }),
    tlv(0xa3, seq(seq(oid(SUBJECT_ALT_NAME), tlv(0x04, altNames)))),
  );
  const signature = sign("sha256", tbs, privateKey);
  const der = seq(tbs, ECDSA_SHA256, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const certPem =
    `-----BEGIN CERTIFICATE-----\n${der.toString("base64").replace(/.{64}/g, "$&\n")}\n-----END CERTIFICATE-----\n`.replace(
      /\n\n/g,
      "\n",
    );
  try {
    new X509Certificate(certPem);
  } catch (cause) {
    throw simError("VSIM_CERT", `Generated certificate for ${commonName} does not parse`, { cause });
  }
  const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  return { certPem, keyPem, thumbprint: thumbprintOf(der) };
}

export function thumbprintOf(der: Buffer): string {
  return createHash("sha256")
    .update(der)
    .digest("hex")
    .toUpperCase()
    .replace(/(..)(?!$)/g, "$1:");
}
