/**
 * Pure parsing of what the host answers: the marked base64 JSON line, the `{ok, data | error}`
 * envelope, Windows PowerShell 5.1 shapes (enums as numbers, "\/Date(ms)\/" dates, single objects
 * where a list was meant) and the enum tables of the Hyper-V module.
 */
import { z } from "zod";
import { hypervError } from "./errors.js";
import { OUTPUT_MARK } from "./invocation.js";

export interface PsFailure {
  readonly message: string;
  readonly type: string;
  readonly id: string;
  readonly category: string;
}

const envelope = z.union([
  z.object({ ok: z.literal(true), data: z.unknown() }),
  z.object({
    ok: z.literal(false),
    error: z.object({
      message: z.string().default(""),
      type: z.string().default(""),
      id: z.string().nullable().default(""),
      category: z.string().nullable().default(""),
    }),
  }),
]);

export type Envelope = { ok: true; data: unknown } | { ok: false; error: PsFailure };

/** Finds the answer line in stdout and decodes the envelope. */
export function parseEnvelope(stdout: string, what: string): Envelope {
  const line = stdout
    .split(/\r?\n/)
    .reverse()
    .find((l) => l.startsWith(OUTPUT_MARK));
  if (line === undefined) {
    throw hypervError(
      "HYPERV_BAD_OUTPUT",
      `${what}: the host wrote no answer line (stdout began with ${JSON.stringify(stdout.slice(0, 120))})`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(line.slice(OUTPUT_MARK.length).trim(), "base64").toString("utf8"));
  } catch (err) {
    throw hypervError("HYPERV_BAD_OUTPUT", `${what}: the answer is not base64 JSON`, { cause: err });
  }
  const r = envelope.safeParse(json);
  if (!r.success)
    throw hypervError(
      "HYPERV_BAD_OUTPUT",
      `${what}: unexpected answer shape: ${r.error.issues[0]?.message ?? ""}`,
    );
  if (r.data.ok) return { ok: true, data: r.data.data };
  const e = r.data.error;
  return {
    ok: false,
    error: { message: e.message, type: e.type, id: e.id ?? "", category: e.category ?? "" },
  };
}

/** Parses `data` with `schema`; a mismatch is a coded error naming the first issue's path. */
export function parseData<T>(schema: z.ZodType<T>, data: unknown, what: string): T {
  const r = schema.safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw hypervError(
      "HYPERV_BAD_OUTPUT",
      `${what}: unexpected data at ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? ""}`,
      { details: { issues: r.error.issues.slice(0, 5) } },
    );
  }
  return r.data;
}

/** "\/Date(1700000000000)\/" (5.1), an ISO string (pwsh 7), or null. */
export const psDate = z.union([z.string(), z.null()]).transform((v, ctx) => {
  if (v === null) return null;
  const m = /^\/Date\((-?\d+)(?:[+-]\d{4})?\)\/$/.exec(v);
  const d = m?.[1] ? new Date(Number(m[1])) : new Date(v);
  if (Number.isNaN(d.getTime())) {
    ctx.addIssue({ code: "custom", message: `not a date: ${v}` });
    return z.NEVER;
  }
  return d;
});

/** ConvertTo-Json writes a one-element list as the element and an empty one as null: accept all. */
export function psList<T extends z.ZodType>(item: T) {
  return z
    .union([z.array(item), item, z.null()])
    .transform((v) => (v === null ? [] : Array.isArray(v) ? v : [v]) as Array<z.output<T>>);
}

/** An enum that 5.1 writes as a number and pwsh 7 (-EnumsAsStrings) as its name. */
export function psEnum<N extends string>(table: Readonly<Record<number, N>>, name: string) {
  const byName = new Map(Object.values(table).map((n) => [n.toLowerCase(), n]));
  return z.union([z.number().int(), z.string()]).transform((v, ctx): N | `${string}(${number})` => {
    if (typeof v === "number") return table[v] ?? (`${name}(${v})` as const);
    const known = byName.get(v.toLowerCase());
    if (known) return known;
    ctx.addIssue({ code: "custom", message: `unknown ${name} "${v}"` });
    return z.NEVER;
  });
}

export const VM_STATES: Readonly<Record<number, string>> = {
  1: "Other",
  2: "Running",
  3: "Off",
  4: "Stopping",
  6: "Saved",
  9: "Paused",
  10: "Starting",
  11: "Reset",
  32773: "Saving",
  32776: "Pausing",
  32777: "Resuming",
  32779: "FastSaved",
  32780: "FastSaving",
  32781: "ForceShutdown",
  32782: "ForceReboot",
  32783: "RunningCritical",
  32784: "OffCritical",
  32785: "StoppingCritical",
  32786: "SavedCritical",
  32787: "PausedCritical",
  32788: "StartingCritical",
  32789: "ResetCritical",
  32790: "SavingCritical",
  32791: "PausingCritical",
  32792: "ResumingCritical",
  32793: "FastSavedCritical",
  32794: "FastSavingCritical",
};

export const IC_STATUSES: Readonly<Record<number, string>> = {
  2: "OK",
  3: "Degraded",
  6: "Error",
  7: "NonRecoverableError",
  12: "NoContact",
  13: "LostCommunication",
  15: "Dormant",
  32775: "ProtocolMismatch",
  32782: "ApplicationCritical",
  32783: "CommunicationTimedOut",
  32784: "CommunicationFailed",
  32896: "Disabled",
};

export const CLUSTER_NODE_STATES: Readonly<Record<number, string>> = {
  0: "Up",
  1: "Down",
  2: "Paused",
  3: "Joining",
};
export const CLUSTER_GROUP_STATES: Readonly<Record<number, string>> = {
  0: "Online",
  1: "Offline",
  2: "Failed",
  3: "PartialOnline",
  4: "Pending",
};
export const CONTROLLER_TYPES: Readonly<Record<number, string>> = { 0: "IDE", 1: "SCSI" };
export const VHD_TYPES: Readonly<Record<number, string>> = { 2: "Fixed", 3: "Dynamic", 4: "Differencing" };

/** Msvm_ConcreteJob.JobState values that mean "still running". */
export const JOB_RUNNING = new Set([2, 3, 4, 5, 6]);
export const JOB_COMPLETED = 7;
