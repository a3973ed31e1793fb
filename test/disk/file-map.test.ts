import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { open, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseFilefrag } from "../../src/disk/file-map.js";
import { openFileSource } from "../../src/disk/file-source.js";
import { RawDisk } from "../../src/disk/raw.js";
import { seededBytes, withTempDir } from "../repository/helpers.js";

const GiB = 2 ** 30;
const head = (size: number) =>
  `Filesystem type is: ef53\nFile size of /dev/fd/3 is ${size} (${size / 4096} blocks of 4096 bytes)\n` +
  ` ext:     logical_offset:        physical_offset: length:   expected: flags:\n`;

describe("parseFilefrag()", () => {
  it("keeps written extents, drops unwritten (preallocated) ones, merges neighbours and clips at the end", () => {
    const text =
      head(10 * GiB) +
      `   0:        1..       1:    8925185..   8925185:      1:          1:\n` +
      `   1:        2..       3:    9000000..   9000001:      2:    8925186:\n` +
      `   2:    25600..   27647:    8923136..   8925183:   2048:    9000002: unwritten\n` +
      `   3:  2621438.. 2621449:    8927232..   8927243:     12:   10177536: last,eof\n` +
      `/dev/fd/3: 4 extents found\n`;
    assert.deepEqual(parseFilefrag(text, 10 * GiB), [
      { start: 4096, length: 3 * 4096 },
      { start: 2621438 * 4096, length: 2 * 4096 },
    ]);
  });

  it("reads a file of holes only as no data", () => {
    const text = `Filesystem type is: ef53\nFile size of /dev/fd/3 is ${GiB} (262144 blocks of 4096 bytes)\n/dev/fd/3: 0 extents found\n`;
    assert.deepEqual(parseFilefrag(text, GiB), []);
  });

  it("gives up (whole file) on anything it does not understand", () => {
    const table: [string, string, number][] = [
      [
        "no FIEMAP (tmpfs)",
        `File size of /dev/fd/3 is ${GiB} (262144 blocks of 4096 bytes)\n/dev/fd/3: FIBMAP/FIEMAP unsupported\n`,
        GiB,
      ],
      [
        "size changed",
        head(GiB) + `   0:        0..       0:    1..   1:      1:    last\n/dev/fd/3: 1 extent found\n`,
        2 * GiB,
      ],
      [
        "a line out of shape",
        head(GiB) + `   0:   zero..  0:  1..  1:   1:\n/dev/fd/3: 1 extent found\n`,
        GiB,
      ],
      [
        "length disagrees",
        head(GiB) + `   0:        0..       9:    1..   10:      3:\n/dev/fd/3: 1 extent found\n`,
        GiB,
      ],
      [
        "out of order",
        head(GiB) +
          `   0:      100..     100:    1..   1:      1:\n   1:        0..       0:    2..   2:      1:\n/dev/fd/3: 2 extents found\n`,
        GiB,
      ],
      ["empty", "", GiB],
    ];
    for (const [name, text, size] of table) assert.equal(parseFilefrag(text, size), undefined, name);
  });
});

const hasFilefrag = spawnSync("filefrag", ["-V"]).status === 0;

describe("sparse local files", () => {
  it(
    "a raw image reads only where the file holds data",
    { skip: !hasFilefrag && "filefrag (e2fsprogs) is not installed" },
    async (t) => {
      await withTempDir(async (dir) => {
        const path = join(dir, "sparse.raw");
        await writeFile(path, "");
        await truncate(path, 64 * GiB);
        const fh = await open(path, "r+");
        await fh.write(seededBytes(1 << 20, 1), 0, 1 << 20, 3 * GiB);
        await fh.write(seededBytes(4096, 2), 0, 4096, 40 * GiB + 8192);
        await fh.close();
        const source = await openFileSource(path);
        const mapped = await source.dataExtents!();
        await source.close();
        if (mapped === undefined) return t.skip("this file system does not map files (no FIEMAP)");
        // File systems allocate in blocks of their own: the written bytes are covered, little else.
        const covered = (at: number, n: number) =>
          mapped.some((e) => e.start <= at && at + n <= e.start + e.length);
        assert.ok(covered(3 * GiB, 1 << 20) && covered(40 * GiB + 8192, 4096), JSON.stringify(mapped));
        const total = mapped.reduce((n, e) => n + e.length, 0);
        assert.ok(total <= 8 << 20, `mapped ${total} bytes`);
        const disk = new RawDisk(await openFileSource(path), path);
        assert.deepEqual(await disk.allocated(), mapped);
        await disk.close();
      });
    },
  );
});
