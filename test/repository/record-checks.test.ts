import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { checkRepoConfig, repoConfigSchema } from "../../src/repository/config.js";
import { checkExtentsFile, extentsFileSchema } from "../../src/repository/extents.js";
import { checkLock, lockSchema } from "../../src/repository/locks.js";
import { checkManifest, manifestSchema, manifestZodSchema } from "../../src/repository/manifest.js";

/**
 * The plain checks on the records' fast path (src/repository/lazy-zod.ts) against their zod schemas:
 * every record a check accepts, zod accepts too and returns the same value; the records the
 * repository writes pass the check (else every command would load zod again). Each sample is
 * mutated at every place in many ways to look for a disagreement.
 */
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const ODD: Json[] = [null, true, "", "x", "0".repeat(64), -1, 0, 1, 1.5, 2 ** 60, 65536, -8, 20, {}, []];

/** `value` with the node at `path` replaced by `fn(node)` (undefined deletes it). */
function edit(value: Json, path: readonly (string | number)[], fn: (node: Json) => Json | undefined): Json {
  if (path.length === 0) return fn(value) ?? null;
  const [head, ...rest] = path;
  const node = (value as Record<string | number, Json>)[head!]!;
  const next = rest.length === 0 ? fn(node) : edit(node, rest, fn);
  if (Array.isArray(value)) {
    const copy = [...value];
    if (next === undefined) copy.splice(head as number, 1);
    else copy[head as number] = next;
    return copy;
  }
  const copy = { ...(value as { [k: string]: Json }) };
  if (next === undefined) delete copy[head as string];
  else copy[head as string] = next;
  return copy;
}

function* paths(value: Json, at: (string | number)[] = []): Generator<(string | number)[]> {
  yield at;
  if (Array.isArray(value)) for (let i = 0; i < value.length; i++) yield* paths(value[i]!, [...at, i]);
  else if (value !== null && typeof value === "object")
    for (const k of Object.keys(value)) yield* paths(value[k]!, [...at, k]);
}

function* mutations(sample: Json): Generator<Json> {
  for (const path of paths(sample)) {
    for (const odd of ODD) yield edit(sample, path, () => odd);
    if (path.length > 0) yield edit(sample, path, () => undefined);
    yield edit(sample, path, (node) =>
      Array.isArray(node)
        ? [...node, ...node]
        : node !== null && typeof node === "object"
          ? { ...node, extra: 1 }
          : typeof node === "string"
            ? `${node}Z`
            : typeof node === "number"
              ? node * 2 + 1
              : node,
    );
  }
}

interface RecordCase {
  readonly name: string;
  readonly check: (value: unknown) => unknown;
  readonly zod: () => {
    safeParse(value: unknown): { success: boolean; data?: unknown };
  };
  readonly samples: Json[];
}

const disk = (key: string): Json => ({
  key,
  capacity: 8388608,
  changeId: null,
  read: "incremental",
  fullReason: null,
  index: { sha256: "ab".repeat(32), chunks: 8, zeroChunks: 2 },
  stats: { bytesRead: 1048576, bytesNew: 0, bytesStored: 0, chunksRead: 1, chunksNew: 0 },
});
const manifest: Json = {
  format: 1,
  id: "20261122T063951947Z-aaf7e5a2",
  machine: { id: "m1", name: "disk.raw", hypervisor: "image" },
  parent: "20261122T063951660Z-3ab624ee",
  kind: "incremental",
  chunkSize: 1048576,
  snapshotAt: "2026-11-22T06:39:51.947Z",
  startedAt: "2026-11-22T06:39:51.947Z",
  completedAt: "2026-11-22T06:39:51.990Z",
  consistency: { expected: "crash", achieved: "crash", reason: "image file: no guest to quiesce" },
  disks: [disk("disk0")],
  stats: { bytesRead: 1048576, bytesNew: 0, bytesStored: 0, dedupRatio: null, durationMs: 43 },
  tags: {},
  references: [],
};
const config: Json = {
  format: "snapvisor-repository",
  version: 1,
  id: "7560ebcf-25be-43f5-9c6d-1b3c71f86b44",
  createdAt: "2026-11-21T00:00:00.000Z",
  chunkSize: 1048576,
  chunkId: "sha256",
  compression: { name: "zstd", level: 1 },
  encryption: null,
};

const records: RecordCase[] = [
  {
    name: "manifest",
    check: checkManifest,
    zod: manifestZodSchema,
    samples: [
      manifest,
      edit(manifest, ["references"], () => undefined),
      {
        ...manifest,
        parent: null,
        kind: "base",
        disks: [
          disk("disk0"),
          { ...(disk("scsi0:1") as { [k: string]: Json }), changeId: "52 1a/7", read: "full" },
        ],
        stats: { bytesRead: 5, bytesNew: 2, bytesStored: 1, dedupRatio: 2.5, durationMs: 0.5 },
        tags: { job: "j-1", kind: "vm" },
        references: [{ key: "shared", machineId: "x-ab", pointId: "p" }],
      },
    ],
  },
  {
    name: "repository config",
    check: checkRepoConfig,
    zod: repoConfigSchema,
    samples: [
      config,
      {
        ...config,
        chunkId: "hmac-sha256",
        compression: { name: "zstd", level: -7 },
        encryption: {
          cipher: "aes-256-gcm",
          kdf: { name: "scrypt", salt: "c2FsdA==", N: 32768, r: 8, p: 1 },
          wrappedKeys: { iv: "aXY=", tag: "dGFn", data: "ZGF0YQ==" },
        },
      },
    ],
  },
  {
    name: "lock",
    check: checkLock,
    zod: lockSchema,
    samples: [
      {
        id: "p6291-5bce98f7-31f5602c",
        mode: "backup",
        host: "h",
        pid: 6291,
        command: "backup image",
        createdAt: "2026-11-22T06:39:57.700Z",
        heartbeatAt: "2026-11-22T06:39:57.700Z",
      },
    ],
  },
  {
    name: "extents file",
    check: checkExtentsFile,
    zod: extentsFileSchema,
    samples: [
      [],
      [
        { start: 0, length: 65536 },
        { start: 524288, length: 1 },
      ],
    ],
  },
];

describe("plain record checks against their zod schemas", () => {
  for (const r of records) {
    it(`the ${r.name} check passes the records the repository writes, as zod returns them`, () => {
      for (const sample of r.samples) {
        const fast = r.check(sample);
        assert.notEqual(fast, undefined, JSON.stringify(sample));
        const parsed = r.zod().safeParse(sample);
        assert.ok(parsed.success);
        assert.deepEqual(fast, parsed.data);
      }
    });

    it(`the ${r.name} check accepts nothing zod refuses, nor returns other than zod`, () => {
      let refused = 0;
      let tried = 0;
      for (const sample of r.samples) {
        for (const m of mutations(sample)) {
          tried++;
          const fast = r.check(structuredClone(m));
          const parsed = r.zod().safeParse(structuredClone(m));
          if (fast === undefined) {
            refused++;
            continue;
          }
          assert.ok(parsed.success, `accepted what zod refuses: ${JSON.stringify(m)}`);
          assert.deepEqual(fast, parsed.data, JSON.stringify(m));
        }
      }
      assert.ok(refused > tried / 2, `most mutations are refused (${refused} of ${tried})`);
    });
  }

  it("manifestSchema answers with zod's issues when the plain check refuses", () => {
    const parsed = manifestSchema.safeParse({ ...manifest, kind: "weekly" });
    assert.equal(parsed.success, false);
    assert.deepEqual(
      parsed.error?.issues.map((i) => i.path),
      [["kind"]],
    );
  });

  it("manifestSchema fills in references that an older manifest lacks", () => {
    const parsed = manifestSchema.safeParse(edit(manifest, ["references"], () => undefined));
    assert.ok(parsed.success);
    assert.deepEqual(parsed.data.references, []);
  });
});
