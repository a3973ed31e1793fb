/**
 * The ESXi shell commands the SSH endpoint serves, parsed without a shell: words split with POSIX
 * quoting ('...', "...", backslash), shell operators refused. Supported:
 *   dd if=PATH bs=N skip=N count=N    (busybox dd: N may end in k, M or G; status=none accepted)
 *   cat PATH
 *   stat -c %s PATH
 * each optionally followed by `2>/dev/null` (stderr discarded), the one redirection allowed.
 * Pure: no I/O.
 */

type Program =
  | { kind: "dd"; path: string; blockSize: number; skip: number; count: number | undefined }
  | { kind: "cat"; path: string }
  | { kind: "stat-size"; path: string };

export type EsxiCommand = Program & { readonly quiet: boolean };

export type ParseResult =
  { ok: true; command: EsxiCommand } | { ok: false; exitCode: number; message: string };

const DISCARD_STDERR = /\s+2>\s*\/dev\/null\s*$/;

/** Splits a command line into words; undefined when it holds unquoted shell syntax. */
export function splitWords(line: string): string[] | undefined {
  const words: string[] = [];
  let cur = "";
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) return undefined;
      cur += line.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === "\\" && j + 1 < line.length && '"\\$`'.includes(line[j + 1]!)) j++;
        else if (line[j] === "$" || line[j] === "`") return undefined;
        cur += line[j];
      }
      if (j >= line.length) return undefined;
      i = j;
      inWord = true;
    } else if (c === "\\") {
      if (i + 1 >= line.length) return undefined;
      cur += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = "";
      inWord = false;
    } else if (";|&$`<>(){}*?[]~!#".includes(c)) {
      return undefined;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

const SUFFIX: Record<string, number> = {
  "": 1,
  c: 1,
  w: 2,
  b: 512,
  k: 1024,
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
};

function number(v: string, what: string): number | string {
  const m = /^(\d+)([cwbkKMG]?)$/.exec(v);
  const n = m ? Number(m[1]) * SUFFIX[m[2] ?? ""]! : NaN;
  return Number.isSafeInteger(n) ? n : `dd: invalid number '${v}' for ${what}`;
}

export function parseCommand(line: string): ParseResult {
  const quiet = DISCARD_STDERR.test(line);
  const r = parseWords(line.replace(DISCARD_STDERR, ""));
  return r.ok ? { ok: true, command: { ...r.command, quiet } } : r;
}

type Parsed = { ok: true; command: Program } | { ok: false; exitCode: number; message: string };

function parseWords(line: string): Parsed {
  const words = splitWords(line.trim());
  if (!words)
    return {
      ok: false,
      exitCode: 2,
      message: "sh: shell operators, globs and substitutions are not supported by this endpoint\n",
    };
  const [cmd, ...args] = words;
  switch (cmd) {
    case "dd": {
      let path: string | undefined;
      let bs = 512;
      let skip = 0;
      let count: number | undefined;
      for (const a of args) {
        const eq = a.indexOf("=");
        const key = a.slice(0, eq);
        const val = a.slice(eq + 1);
        if (eq < 0) return { ok: false, exitCode: 1, message: `dd: invalid argument '${a}'\n` };
        if (key === "if") path = val;
        else if (key === "status" && val === "none") continue;
        else if (key === "bs" || key === "skip" || key === "count") {
          const n = number(val, key);
          if (typeof n === "string") return { ok: false, exitCode: 1, message: `${n}\n` };
          if (key === "bs") {
            if (n === 0 || n > 64 * 1024 * 1024)
              return { ok: false, exitCode: 1, message: `dd: bs must be 1..64M, got '${val}'\n` };
            bs = n;
          } else if (key === "skip") skip = n;
          else count = n;
        } else
          return {
            ok: false,
            exitCode: 1,
            message: `dd: operand '${key}' is not supported by this endpoint (use if, bs, skip, count)\n`,
          };
      }
      if (!path)
        return {
          ok: false,
          exitCode: 1,
          message: "dd: if=PATH is required (reading stdin is not supported)\n",
        };
      return { ok: true, command: { kind: "dd", path, blockSize: bs, skip, count } };
    }
    case "cat":
      if (args.length !== 1)
        return { ok: false, exitCode: 1, message: "cat: exactly one file is supported\n" };
      return { ok: true, command: { kind: "cat", path: args[0]! } };
    case "stat":
      if (args.length !== 3 || args[0] !== "-c" || args[1] !== "%s") {
        return { ok: false, exitCode: 1, message: "stat: only 'stat -c %s PATH' is supported\n" };
      }
      return { ok: true, command: { kind: "stat-size", path: args[2]! } };
    default:
      return {
        ok: false,
        exitCode: 127,
        message: `sh: ${cmd ?? ""}: not found (this endpoint serves dd, cat and stat -c %s)\n`,
      };
  }
}

/** busybox dd's summary line on stderr. */
export function ddSummary(bytes: number, blockSize: number): string {
  const full = Math.floor(bytes / blockSize);
  const partial = bytes % blockSize ? 1 : 0;
  return `${full}+${partial} records in\n${full}+${partial} records out\n`;
}
