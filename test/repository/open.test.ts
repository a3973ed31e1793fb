import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { LocalStorage } from "../../src/repository/local-storage.js";
import { newOwnerId, openLocalRepository } from "../../src/repository/open.js";
import { Repository } from "../../src/repository/repository.js";
import { withTempDir } from "./helpers.js";

describe("openLocalRepository()", () => {
  it("removes temporary files of a dead process of this host that left no lock, and keeps a live one's", async () => {
    await withTempDir(async (dir) => {
      const init = new LocalStorage(dir);
      await Repository.init(init);
      await init.cleanTemporary();
      const deadPid = spawnSync(process.execPath, ["-e", "0"]).pid;
      const tag = newOwnerId().split("-")[1]!;
      const dead = `p${deadPid}-${tag}-0badf00d`;
      const live = `p${process.pid}-${tag}-0000beef`;
      const otherHost = `p${deadPid}-ffffffff-0000aaaa`;
      for (const owner of [dead, live, otherHost]) {
        await mkdir(join(dir, "tmp", owner), { recursive: true });
        await writeFile(join(dir, "tmp", owner, "0123"), "partial lock file");
      }
      const opened = await openLocalRepository(dir, {
        mode: "backup",
        command: "t",
        passphrase: async () => undefined,
      });
      await opened.close();
      assert.deepEqual((await readdir(join(dir, "tmp"))).sort(), [live, otherHost].sort());
    });
  });
});
