import { createHash, randomBytes } from "node:crypto";
import { hostname } from "node:os";

/** Names this host in owner ids, so only processes of this host are judged dead by their pid. */
export const HOST_TAG = createHash("sha256").update(hostname()).digest("hex").slice(0, 8);
export const OWNER_ID = /^p(\d+)-([0-9a-f]{8})-[0-9a-f]+$/;

/** A holder's id, `p<pid>-<host tag>-<random>`: it names its lock and its temporary folder. */
export function newOwnerId(pid = process.pid): string {
  return `p${pid}-${HOST_TAG}-${randomBytes(4).toString("hex")}`;
}
