/**
 * The `powershell.exe` stand-in node-powershell spawns (through a wrapper script written by
 * startHypervSimulator). It accepts PowerShell's command line (`-NoLogo -NoExit -Command -` and the
 * usual switches) and relays stdin/stdout/stderr to the simulator's PowerShell host over a Unix
 * socket, where one session per process runs against the shared model.
 */
import { connect } from "node:net";
import { createInterface } from "node:readline";

const SWITCHES = new Set(["-nologo", "-noexit", "-noprofile", "-noninteractive", "-mta", "-sta"]);
const VALUED = new Set(["-executionpolicy", "-inputformat", "-outputformat", "-windowstyle", "-command"]);

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(64);
}

function main(argv: string[]): void {
  let socket = "";
  let node = "";
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    const lower = a.toLowerCase();
    if (a === "--socket") socket = argv[++i] ?? "";
    else if (a === "--node") node = argv[++i] ?? "";
    else if (SWITCHES.has(lower)) continue;
    else if (VALUED.has(lower)) {
      const v = argv[++i];
      if (lower === "-command") command = v;
    } else fail(`${a} : The argument is not recognized as a parameter of powershell.exe.`);
  }
  if (!socket || !node) fail("ps-exe: --socket and --node are required (written by startHypervSimulator)");
  if (command !== "-") fail("This PowerShell host only runs commands read from standard input (-Command -).");
  const conn = connect(socket);
  conn.setEncoding("utf8");
  conn.write(JSON.stringify({ hello: node }) + "\n");
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk: string) => conn.write(JSON.stringify({ in: chunk }) + "\n"));
  process.stdin.on("end", () => conn.write(JSON.stringify({ end: true }) + "\n"));
  const lines = createInterface({ input: conn });
  lines.on("line", (line) => {
    const msg = JSON.parse(line) as { out?: string; err?: string; exit?: number };
    if (msg.out !== undefined) process.stdout.write(msg.out);
    if (msg.err !== undefined) process.stderr.write(msg.err);
    if (msg.exit !== undefined) process.exit(msg.exit);
  });
  conn.on("close", () => process.exit(0));
  conn.on("error", (err) => fail(`Cannot reach the Hyper-V simulator at ${socket}: ${err.message}`));
}

main(process.argv.slice(2));
