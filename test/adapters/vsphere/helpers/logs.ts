import type { Logger } from "../../../../src/domain/ports.js";

/** A Logger that keeps every record, to assert on warnings and on what never reaches logs. */
export function captureLogger(): Logger & {
  readonly records: { level: string; obj: object; msg: string | undefined }[];
  text(): string;
} {
  const records: { level: string; obj: object; msg: string | undefined }[] = [];
  const make = (bindings: Record<string, unknown>): Logger => ({
    debug: (obj, msg) => records.push({ level: "debug", obj: { ...bindings, ...obj }, msg }),
    info: (obj, msg) => records.push({ level: "info", obj: { ...bindings, ...obj }, msg }),
    warn: (obj, msg) => records.push({ level: "warn", obj: { ...bindings, ...obj }, msg }),
    error: (obj, msg) => records.push({ level: "error", obj: { ...bindings, ...obj }, msg }),
    child: (more) => make({ ...bindings, ...more }),
  });
  return Object.assign(make({}), { records, text: () => JSON.stringify(records) });
}
