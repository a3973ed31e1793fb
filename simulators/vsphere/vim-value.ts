/**
 * The values the simulator speaks in: managed object references, data objects tagged with their
 * vim25 type, and faults. Serialization (element order, xsi:type) lives in soap-codec.ts.
 */

export class MoRef {
  constructor(
    readonly type: string,
    readonly value: string,
  ) {}
  get key(): string {
    return `${this.type}:${this.value}`;
  }
}

export type VimPrimitive = string | number | bigint | boolean | Date;

/** A vim25 data object: `$type` is the concrete type (emitted as xsi:type where it differs). */
export interface DataObject {
  readonly $type: string;
  readonly [field: string]: VimValue | undefined;
}

export type VimValue = VimPrimitive | MoRef | DataObject | Typed | readonly VimValue[];

/** A value with its declared vim25 type, for `xsd:anyType` slots (PropertyCollector `val`). */
export class Typed {
  constructor(
    readonly type: string,
    readonly value: VimValue,
  ) {}
}

export function data(type: string, fields: Record<string, VimValue | undefined>): DataObject {
  return { $type: type, ...fields };
}

export function isDataObject(v: unknown): v is DataObject {
  return (
    typeof v === "object" &&
    v !== null &&
    !(v instanceof MoRef) &&
    !(v instanceof Typed) &&
    !(v instanceof Date) &&
    !Array.isArray(v) &&
    typeof (v as { $type?: unknown }).$type === "string"
  );
}

/**
 * A vim25 fault raised by a method: sent as a SOAP Fault whose `detail` holds `<TypeFault
 * xsi:type="Type">`, or stored in a task's `info.error` as a LocalizedMethodFault.
 */
export class VimFault extends Error {
  readonly fault: DataObject;
  constructor(type: string, message: string, fields: Record<string, VimValue | undefined> = {}) {
    super(message);
    this.fault = data(type, fields);
  }
  get type(): string {
    return this.fault.$type;
  }
  localized(): DataObject {
    return data("LocalizedMethodFault", { fault: this.fault, localizedMessage: this.message });
  }
}

export const faults = {
  notAuthenticated: (obj: MoRef) =>
    new VimFault("NotAuthenticated", "The session is not authenticated.", {
      object: obj,
      privilegeId: "System.View",
    }),
  invalidLogin: () =>
    new VimFault("InvalidLogin", "Cannot complete login due to an incorrect user name or password."),
  managedObjectNotFound: (obj: MoRef) =>
    new VimFault(
      "ManagedObjectNotFound",
      "The object has already been deleted or has not been completely created",
      {
        obj,
      },
    ),
  methodNotFound: (receiver: MoRef, method: string) =>
    new VimFault("MethodNotFound", `${receiver.type}:${receiver.value} does not implement: ${method}`, {
      receiver,
      method,
    }),
  invalidArgument: (property: string, message?: string) =>
    new VimFault("InvalidArgument", message ?? `A specified parameter was not correct: ${property}`, {
      invalidProperty: property,
    }),
  invalidProperty: (name: string) => new VimFault("InvalidProperty", `Invalid property: ${name}`, { name }),
  invalidRequest: (message: string) => new VimFault("InvalidRequest", message),
  invalidPowerState: (requested: string | undefined, existing: string) =>
    new VimFault("InvalidPowerState", "The attempted operation cannot be performed in the current state", {
      requestedState: requested,
      existingState: existing,
    }),
  invalidState: (message: string) => new VimFault("InvalidState", message),
  taskInProgress: (task: MoRef) =>
    new VimFault("TaskInProgress", "Another task is already in progress.", { task }),
  fileFault: (file: string, message: string) => new VimFault("FileFault", message, { file }),
  notSupported: (message: string) => new VimFault("NotSupported", message),
  toolsUnavailable: () =>
    new VimFault(
      "ToolsUnavailable",
      "Cannot complete operation because VMware Tools is not running in this virtual machine.",
    ),
  notFound: (message: string) => new VimFault("NotFound", message),
  duplicateName: (name: string, object: MoRef) =>
    new VimFault("DuplicateName", `The name '${name}' already exists.`, { name, object }),
  invalidName: (name: string) =>
    new VimFault("InvalidName", `Invalid name: '${name}'`, { name, entity: undefined }),
};
