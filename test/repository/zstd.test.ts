import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { promisify } from "node:util";
import { directBinding } from "../../src/repository/zstd.js";

const P = "@toondepauw/node-zstd";

describe("directBinding()", () => {
  const cases: [string, string, string, readonly string[], string | undefined][] = [
    [
      "loads the one Linux package installed (glibc)",
      "linux",
      "x64",
      [`${P}-linux-x64-gnu`],
      `${P}-linux-x64-gnu`,
    ],
    [
      "loads the one Linux package installed (musl)",
      "linux",
      "arm64",
      [`${P}-linux-arm64-musl`],
      `${P}-linux-arm64-musl`,
    ],
    [
      "leaves the choice to the package when both C libraries' packages are installed",
      "linux",
      "x64",
      [`${P}-linux-x64-gnu`, `${P}-linux-x64-musl`],
      undefined,
    ],
    ["leaves it to the package when none is installed", "linux", "x64", [], undefined],
    ["ignores another CPU's package", "linux", "x64", [`${P}-linux-arm64-gnu`], undefined],
    ["leaves other systems to the package", "darwin", "arm64", [`${P}-darwin-arm64`], undefined],
  ];
  for (const [what, platform, arch, present, expected] of cases) {
    it(what, () =>
      assert.equal(
        directBinding(platform, arch, (n) => present.includes(n)),
        expected,
      ),
    );
  }
});

describe("the zstd binding", () => {
  const installed = (name: string) => {
    try {
      createRequire(import.meta.url).resolve(name);
      return true;
    } catch {
      return false;
    }
  };
  const direct = directBinding(process.platform, process.arch, installed);

  it(
    "loads without a diagnostic report where one platform package is installed",
    {
      skip: direct === undefined ? "no single Linux platform package here" : false,
    },
    async () => {
      const url = new URL("../../src/repository/zstd.js", import.meta.url).href;
      const script =
        `let reports = 0; const real = process.report.getReport.bind(process.report);\n` +
        `process.report.getReport = () => { reports++; return real(); };\n` +
        `const { Encoder, Decoder } = await import(${JSON.stringify(url)});\n` +
        `const packed = new Encoder(1).encodeSync(Buffer.alloc(4096, 7));\n` +
        `console.log(reports, new Decoder().decodeSync(packed).equals(Buffer.alloc(4096, 7)));`;
      const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script]);
      assert.equal(stdout.trim(), "0 true");
    },
  );
});
