/**
 * Starts VMware's vcsim (built by tools/vcsim/build.sh) on a random loopback port for one test file
 * and stops it afterwards. The binary is found through VCSIM_BIN (set by .ci/run) or the build
 * script's default cache path.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

export interface Vcsim {
  readonly url: string;
  readonly origin: string;
  readonly username: string;
  readonly password: string;
  stop(): Promise<void>;
}

export function vcsimBinary(): string {
  const bin =
    process.env.VCSIM_BIN ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "snapvisor", "vcsim");
  if (!existsSync(bin))
    throw new Error(`vcsim not found at ${bin}: run tools/vcsim/build.sh (or set VCSIM_BIN)`);
  return bin;
}

export async function startVcsim(args: readonly string[] = [], password = "pass"): Promise<Vcsim> {
  const child: ChildProcess = spawn(vcsimBinary(), ["-l", "127.0.0.1:0", "-password", password, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stderr: string[] = [];
  child.stderr?.on("data", (c: Buffer) => stderr.push(c.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    if (child.stdout === null) throw new Error("vcsim has no stdout");
    createInterface({ input: child.stdout }).once("line", resolve);
    child.once("exit", (code) =>
      reject(new Error(`vcsim exited with ${code}: ${stderr.join("").slice(-500)}`)),
    );
  });
  const url = new URL(line);
  return {
    url: `${url.origin}/sdk`,
    origin: url.origin,
    username: decodeURIComponent(url.username),
    password,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
