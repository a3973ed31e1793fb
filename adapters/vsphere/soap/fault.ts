/**
 * vim25 faults -> coded errors. A fault arrives either as a SOAP Fault (`faultstring` plus a
 * `detail` element whose xsi:type names the vim25 fault) or inside a failed task's
 * `info.error` (LocalizedMethodFault). `classifyFault` is the pure decision: the code and whether
 * repeating the call may succeed. Subtypes map to their family (FileNotFound is a FileFault).
 */
import type { PlainObject } from "./decode.js";
import { toPlain } from "./decode.js";
import { vsphereError, type VsphereError, type VsphereErrorCode } from "../errors.js";
import { xsiType, type XmlElement } from "./xml.js";

const FAMILIES: Readonly<Record<string, readonly string[]>> = {
  FileFault: [
    "CannotAccessFile",
    "CannotCreateFile",
    "CannotDeleteFile",
    "DirectoryNotEmpty",
    "FileAlreadyExists",
    "FileLocked",
    "FileNameTooLong",
    "FileNotFound",
    "FileNotWritable",
    "FileTooLarge",
    "IncorrectFileType",
    "NetworkCopyFault",
    "NoDiskSpace",
    "NotADirectory",
    "NotAFile",
  ],
  SnapshotFault: [
    "MemorySnapshotOnIndependentDisk",
    "MultipleSnapshotsNotSupported",
    "SnapshotDisabled",
    "SnapshotIncompatibleDeviceInVm",
    "SnapshotLocked",
    "SnapshotNoChange",
    "TooManySnapshotLevels",
  ],
  InvalidState: [
    "InvalidPowerState",
    "InvalidHostState",
    "InvalidHostConnectionState",
    "InvalidDatastoreState",
    "QuestionPending",
    "VmPowerOnDisabled",
    "NoActiveHostInCluster",
    "InvalidVmState",
  ],
  HostCommunication: ["HostNotConnected", "HostNotReachable"],
  TaskInProgress: ["VAppTaskInProgress"],
  InvalidArgument: ["InvalidIndexArgument", "IncompatibleSetting", "InvalidRequest", "InvalidType"],
  NotImplemented: ["MethodNotFound", "NotSupported", "MethodDisabled", "RestrictedVersion"],
  InvalidLogin: ["InvalidClientCertificate"],
};

const FAMILY_OF = new Map<string, string>();
for (const [family, members] of Object.entries(FAMILIES)) {
  FAMILY_OF.set(family, family);
  for (const m of members) FAMILY_OF.set(m, family);
}

export interface FaultClass {
  readonly code: VsphereErrorCode;
  readonly retryable: boolean;
}

/** The pure decision: a vim25 fault type (and its message, for vcsim's untyped faults) -> code. */
export function classifyFault(faultType: string, message: string): FaultClass {
  if (faultType === "ApplicationQuiesceFault" || faultType === "FilesystemQuiesceFault")
    return { code: "VSPHERE_QUIESCE_FAILED", retryable: true };
  if (faultType === "NotAuthenticated") return { code: "VSPHERE_NOT_AUTHENTICATED", retryable: true };
  if (faultType === "NoPermission") return { code: "VSPHERE_NO_PERMISSION", retryable: false };
  if (faultType === "ManagedObjectNotFound" || faultType === "NotFound")
    return { code: "VSPHERE_NOT_FOUND", retryable: false };
  switch (FAMILY_OF.get(faultType)) {
    case "FileFault":
      return { code: "VSPHERE_FILE_FAULT", retryable: faultType === "FileLocked" };
    case "SnapshotFault":
      return { code: "VSPHERE_SNAPSHOT_FAULT", retryable: faultType === "SnapshotLocked" };
    case "InvalidState":
      return { code: "VSPHERE_INVALID_STATE", retryable: false };
    case "HostCommunication":
      return { code: "VSPHERE_HOST_COMMUNICATION", retryable: true };
    case "TaskInProgress":
      return { code: "VSPHERE_TASK_IN_PROGRESS", retryable: true };
    case "InvalidArgument":
      return { code: "VSPHERE_INVALID_ARGUMENT", retryable: false };
    case "NotImplemented":
      return { code: "VSPHERE_NOT_IMPLEMENTED", retryable: false };
    case "InvalidLogin":
      return { code: "VSPHERE_INVALID_LOGIN", retryable: false };
  }
  // vcsim answers unimplemented methods with an untyped ServerFaultCode.
  if (/does not implement/i.test(message)) return { code: "VSPHERE_NOT_IMPLEMENTED", retryable: false };
  if (faultType === "SystemError" || faultType === "RequestCanceled")
    return { code: "VSPHERE_FAULT", retryable: true };
  return { code: "VSPHERE_FAULT", retryable: false };
}

/** The vim25 fault type carried by a fault object (`_type`), e.g. "InvalidLogin". */
function typeOfFault(fault: PlainObject | undefined, fallback: string): string {
  const t = fault?._type;
  return typeof t === "string" && t !== "" ? t : fallback;
}

export interface ParsedFault {
  readonly faultType: string;
  readonly message: string;
  readonly detail: PlainObject | undefined;
}

/** Reads a SOAP 1.1 Fault element (pure). */
export function parseSoapFault(fault: XmlElement): ParsedFault {
  const faultstring = fault.children.find((c) => c.name === "faultstring")?.text ?? "";
  const faultcode = fault.children.find((c) => c.name === "faultcode")?.text ?? "";
  const detailEl = fault.children.find((c) => c.name === "detail")?.children[0];
  let faultType = "";
  let detail: PlainObject | undefined;
  if (detailEl !== undefined) {
    faultType = xsiType(detailEl) ?? detailEl.name.replace(/Fault$/, "");
    const plain = toPlain(detailEl);
    detail = typeof plain === "object" && !Array.isArray(plain) ? plain : undefined;
  }
  return { faultType: faultType || faultcode.replace(/^.*:/, ""), message: faultstring, detail };
}

/** A coded error for a fault raised by `operation` on `target` (a moref or name, for the message). */
export function faultError(parsed: ParsedFault, operation: string, target: string): VsphereError {
  const { code, retryable } = classifyFault(parsed.faultType, parsed.message);
  const text = parsed.message === "" ? parsed.faultType : `${parsed.faultType}: ${parsed.message}`;
  return vsphereError(code, `${operation} on ${target} failed: ${text}`, {
    retryable,
    details: { faultType: parsed.faultType, operation, target },
  });
}

/** Reads a task's LocalizedMethodFault (`info.error`) already decoded to plain values. */
export function taskFault(error: { fault: PlainObject; localizedMessage?: string | undefined }): ParsedFault {
  return {
    faultType: typeOfFault(error.fault, "MethodFault"),
    message: error.localizedMessage ?? "",
    detail: error.fault,
  };
}
