import { test } from "node:test";
import assert from "node:assert/strict";
import { contentRangeTotal, folderUrl, parseDatastorePath } from "../../../adapters/vsphere/disk-reader.js";
import {
  ddCommand,
  hostKeyMatches,
  shellQuote,
  statCommand,
  volumePath,
} from "../../../adapters/vsphere/ssh-reader.js";
import { isSnapvisorError } from "../../../src/domain/errors.js";
import { createHash } from "node:crypto";

test("contentRangeTotal() reads the total of a 206 or 416 Content-Range", () => {
  assert.equal(contentRangeTotal("bytes 0-0/1048576"), 1048576);
  assert.equal(contentRangeTotal("bytes */0"), 0);
  assert.equal(contentRangeTotal("bytes 0-0/*"), undefined);
  assert.equal(contentRangeTotal(""), undefined);
});

test("folderUrl() encodes hostile path segments and query values", () => {
  const file = parseDatastorePath("[data store&1] vm <a&b>/disk #1?.vmdk");
  assert.deepEqual(file, { datastore: "data store&1", path: "vm <a&b>/disk #1?.vmdk" });
  assert.equal(
    folderUrl(file, "DC 0"),
    "/folder/vm%20%3Ca%26b%3E/disk%20%231%3F.vmdk?dcPath=DC+0&dsName=data+store%261",
  );
  assert.throws(
    () => parseDatastorePath("/vmfs/volumes/x.vmdk"),
    (e) => isSnapvisorError(e, "VSPHERE_DISK_UNSUPPORTED"),
  );
});

test("ddCommand() reads the 512-aligned window with the largest fitting block size", () => {
  assert.deepEqual(ddCommand("/v/d", 0, 1 << 20), {
    command: "dd if='/v/d' bs=1048576 skip=0 count=1 2>/dev/null",
    windowStart: 0,
    windowLength: 1 << 20,
  });
  assert.deepEqual(ddCommand("/v/d", 4096, 8192), {
    command: "dd if='/v/d' bs=4096 skip=1 count=2 2>/dev/null",
    windowStart: 4096,
    windowLength: 8192,
  });
  const odd = ddCommand("/v/d", 1000, 100);
  assert.equal(odd.windowStart, 512);
  assert.equal(odd.windowLength, 1024);
  assert.match(odd.command, /bs=512 skip=1 count=2/);
});

test("shellQuote() and volumePath() keep hostile names inside one quoted word and inside the datastore", () => {
  assert.equal(shellQuote(`a'b; rm -rf / $(x) \`y\``), `'a'\\''b; rm -rf / $(x) \`y\`'`);
  assert.equal(statCommand("/v/it's"), "stat -c %s '/v/it'\\''s'");
  assert.throws(
    () => shellQuote("a\0b"),
    (e) => isSnapvisorError(e, "VSPHERE_INVALID_ARGUMENT"),
  );
  assert.equal(
    volumePath({ datastore: "ds1", path: "vm/d.vmdk" }, "/vmfs/volumes"),
    "/vmfs/volumes/ds1/vm/d.vmdk",
  );
  assert.throws(
    () => volumePath({ datastore: "ds1", path: "../../etc/shadow" }, "/vmfs/volumes"),
    (e) => isSnapvisorError(e, "VSPHERE_INVALID_ARGUMENT"),
  );
});

test("hostKeyMatches() accepts the OpenSSH SHA256: form and hex, and nothing else", () => {
  const key = Buffer.from("ssh-ed25519 host key blob");
  const digest = createHash("sha256").update(key).digest();
  assert.equal(hostKeyMatches(key, `SHA256:${digest.toString("base64").replace(/=+$/, "")}`), true);
  assert.equal(hostKeyMatches(key, digest.toString("hex").replace(/(..)(?!$)/g, "$1:")), true);
  assert.equal(hostKeyMatches(key, "SHA256:AAAA"), false);
});
