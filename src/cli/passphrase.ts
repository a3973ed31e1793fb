import type { CliIo } from "./command.js";

/**
 * The repository passphrase: SNAPVISOR_PASSPHRASE, else a prompt without echo when stdin is a
 * terminal, else undefined (the repository then reports that it needs one).
 */
export function passphraseSource(
  io: CliIo,
  options: { confirm?: boolean } = {},
): () => Promise<string | undefined> {
  return async () => {
    const fromEnv = io.env["SNAPVISOR_PASSPHRASE"];
    if (fromEnv !== undefined) return fromEnv;
    if (!io.stdinIsTTY) return undefined;
    const first = await prompt("Repository passphrase: ");
    if (options.confirm && (await prompt("Repeat passphrase: ")) !== first) {
      throw new Error("The passphrases do not match");
    }
    return first;
  };
}

async function prompt(question: string): Promise<string> {
  // Imported here: most runs take the passphrase from the environment or need none.
  const { createInterface } = await import("node:readline");
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const rlOut = rl as unknown as { _writeToOutput: (s: string) => void; output: NodeJS.WritableStream };
  let asked = false;
  rlOut._writeToOutput = (s: string) => {
    if (!asked) {
      rlOut.output.write(s);
      asked = true;
    }
  };
  try {
    return await new Promise<string>((resolve) => rl.question(question, resolve));
  } finally {
    process.stderr.write("\n");
    rl.close();
  }
}
