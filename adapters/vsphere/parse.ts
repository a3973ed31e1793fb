/**
 * zod schemas for the vim25 answers we read, applied to the plain values from soap/decode.ts.
 * Integers are checked (`int` must be a safe integer; `long` is parsed as bigint and converted to a
 * number only where the value is a byte count that must stay below 2^53, with a coded error if not).
 */
import { z } from "zod";
import { vsphereError } from "./errors.js";
import type { Plain } from "./soap/decode.js";

/** A repeated element: absent -> [], single -> [x], `ArrayOfX` wrapper -> its items. */
export function arr<T extends z.ZodType>(item: T) {
  return z.preprocess((v: unknown) => {
    if (v === undefined || v === "") return [];
    if (Array.isArray(v)) return v as unknown[];
    if (typeof v === "object" && v !== null && typeof (v as { _type?: unknown })._type === "string") {
      const o = v as Record<string, unknown>;
      if (String(o._type).startsWith("ArrayOf")) {
        const items = Object.entries(o).filter(([k]) => k !== "_type");
        if (items.length === 0) return [];
        const inner = items[0]?.[1];
        return Array.isArray(inner) ? (inner as unknown[]) : [inner];
      }
    }
    return [v];
  }, z.array(item));
}

export const str = z.string();
export const bool = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");
export const int = z
  .string()
  .regex(/^-?\d{1,10}$/, "expected an xsd:int")
  .transform(Number)
  .refine((n) => Number.isSafeInteger(n), "integer out of range");
/** xsd:long as bigint: never loses precision. */
export const long = z
  .string()
  .regex(/^-?\d{1,19}$/, "expected an xsd:long")
  .transform((s) => BigInt(s));
export const moref = z.object({ type: z.string(), value: z.string() });
export type MoRefValue = z.infer<typeof moref>;

/** A byte count or offset as a number, refusing values that a double cannot hold exactly. */
export function byteCount(value: bigint, what: string): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw vsphereError("VSPHERE_BAD_ANSWER", `${what} is outside the exact number range: ${value}`, {
      details: { value: value.toString() },
    });
  }
  return Number(value);
}

export const aboutSchema = z.object({
  fullName: str,
  apiType: str,
  apiVersion: str,
  instanceUuid: str.optional(),
});

export const serviceContentSchema = z.object({
  rootFolder: moref,
  propertyCollector: moref,
  viewManager: moref,
  sessionManager: moref,
  eventManager: moref.optional(),
  about: aboutSchema,
});
export type ServiceContent = z.infer<typeof serviceContentSchema>;

export const localizedFaultSchema = z.object({
  fault: z.looseObject({ _type: str.optional() }),
  localizedMessage: str.optional(),
});

export const objectContentSchema = z.object({
  obj: moref,
  propSet: arr(z.object({ name: str, val: z.unknown() })),
  missingSet: arr(z.object({ path: str, fault: localizedFaultSchema })),
});
export type ObjectContent = z.infer<typeof objectContentSchema>;

export const retrieveResultSchema = z.object({
  token: str.optional(),
  objects: arr(objectContentSchema),
});

export const taskInfoSchema = z.object({
  key: str,
  state: z.enum(["queued", "running", "success", "error"]),
  error: localizedFaultSchema.optional(),
  result: z.unknown().optional(),
  progress: int.optional(),
});
export type TaskInfo = z.infer<typeof taskInfoSchema>;

export interface SnapshotTree {
  readonly snapshot: MoRefValue;
  readonly name: string;
  readonly description: string;
  readonly createTime: string;
  readonly quiesced: boolean;
  readonly backupManifest: string | undefined;
  readonly childSnapshotList: readonly SnapshotTree[];
}

export const snapshotTreeSchema: z.ZodType<SnapshotTree> = z.lazy(() =>
  z
    .object({
      snapshot: moref,
      name: z.string().default(""),
      description: z.string().default(""),
      createTime: str,
      quiesced: bool,
      backupManifest: str.optional(),
      childSnapshotList: arr(snapshotTreeSchema),
    })
    .transform((t) => ({ ...t, backupManifest: t.backupManifest })),
);

export const snapshotInfoSchema = z.object({
  currentSnapshot: moref.optional(),
  rootSnapshotList: arr(snapshotTreeSchema),
});

export interface DiskBacking {
  readonly type: string;
  readonly fileName: string;
  readonly datastore: MoRefValue | undefined;
  readonly diskMode: string | undefined;
  readonly uuid: string | undefined;
  readonly changeId: string | undefined;
  readonly parent: DiskBacking | undefined;
  readonly sharing: string | undefined;
  readonly compatibilityMode: string | undefined;
}

export const diskBackingSchema: z.ZodType<DiskBacking> = z.lazy(() =>
  z
    .looseObject({
      _type: str.default("VirtualDeviceBackingInfo"),
      fileName: z.string().default(""),
      datastore: moref.optional(),
      diskMode: str.optional(),
      uuid: str.optional(),
      changeId: str.optional(),
      parent: diskBackingSchema.optional(),
      sharing: str.optional(),
      compatibilityMode: str.optional(),
    })
    .transform((b) => ({
      type: b._type,
      fileName: b.fileName,
      datastore: b.datastore,
      diskMode: b.diskMode,
      uuid: b.uuid,
      changeId: b.changeId,
      parent: b.parent,
      sharing: b.sharing,
      compatibilityMode: b.compatibilityMode,
    })),
);

export const virtualDeviceSchema = z.looseObject({
  _type: str.optional(),
  key: int,
  deviceInfo: z.object({ label: z.string().default("") }).optional(),
  capacityInKB: long.optional(),
  capacityInBytes: long.optional(),
  backing: diskBackingSchema.optional(),
});

export const diskChangeInfoSchema = z.object({
  startOffset: long,
  length: long,
  changedArea: arr(z.object({ start: long, length: long })),
});

export const eventSchema = z.looseObject({
  _type: str.default("Event"),
  key: int,
  chainId: int.optional(),
  createdTime: str,
  userName: z.string().default(""),
  vm: z.object({ vm: moref.optional(), name: str.optional() }).optional(),
  fullFormattedMessage: str.optional(),
  shutdownResult: str.optional(),
});
export type VmEvent = z.infer<typeof eventSchema>;

/** Applies `schema` to an answer value, turning a mismatch into VSPHERE_BAD_ANSWER with the path. */
export function parseAnswer<T extends z.ZodType>(
  schema: T,
  value: Plain | undefined,
  what: string,
): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue?.path.join(".") ?? "";
    throw vsphereError(
      "VSPHERE_BAD_ANSWER",
      `Unexpected answer for ${what}: ${issue?.message ?? "invalid"}${path === "" ? "" : ` at ${path}`}`,
      { cause: result.error, details: { path } },
    );
  }
  return result.data;
}
