import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { classifyFault, faultError, parseSoapFault } from "../../../adapters/vsphere/soap/fault.js";
import { readEnvelope } from "../../../adapters/vsphere/soap/envelope.js";

const fixture = (name: string) =>
  readFileSync(new URL(`../../../../fixtures/vsphere/${name}.xml`, import.meta.url), "utf8");

test("classifyFault() maps vim25 faults and their subtypes to stable codes", () => {
  const cases: [string, string, boolean][] = [
    ["NotAuthenticated", "VSPHERE_NOT_AUTHENTICATED", true],
    ["InvalidLogin", "VSPHERE_INVALID_LOGIN", false],
    ["InvalidClientCertificate", "VSPHERE_INVALID_LOGIN", false],
    ["NoPermission", "VSPHERE_NO_PERMISSION", false],
    ["TaskInProgress", "VSPHERE_TASK_IN_PROGRESS", true],
    ["FileFault", "VSPHERE_FILE_FAULT", false],
    ["FileNotFound", "VSPHERE_FILE_FAULT", false],
    ["FileLocked", "VSPHERE_FILE_FAULT", true],
    ["ApplicationQuiesceFault", "VSPHERE_QUIESCE_FAILED", true],
    ["FilesystemQuiesceFault", "VSPHERE_QUIESCE_FAILED", true],
    ["TooManySnapshotLevels", "VSPHERE_SNAPSHOT_FAULT", false],
    ["SnapshotLocked", "VSPHERE_SNAPSHOT_FAULT", true],
    ["InvalidPowerState", "VSPHERE_INVALID_STATE", false],
    ["ManagedObjectNotFound", "VSPHERE_NOT_FOUND", false],
    ["MethodNotFound", "VSPHERE_NOT_IMPLEMENTED", false],
    ["NotSupported", "VSPHERE_NOT_IMPLEMENTED", false],
    ["HostNotConnected", "VSPHERE_HOST_COMMUNICATION", true],
    ["InvalidArgument", "VSPHERE_INVALID_ARGUMENT", false],
    ["SystemError", "VSPHERE_FAULT", true],
    ["SomethingNew", "VSPHERE_FAULT", false],
  ];
  for (const [type, code, retryable] of cases) {
    assert.deepEqual(classifyFault(type, ""), { code, retryable }, type);
  }
});

const captured: [string, string, string][] = [
  ["fault-invalid-login", "InvalidLogin", "VSPHERE_INVALID_LOGIN"],
  ["fault-not-implemented", "MethodNotFound", "VSPHERE_NOT_IMPLEMENTED"],
  ["fault-managed-object-not-found", "ManagedObjectNotFound", "VSPHERE_NOT_FOUND"],
  ["fault-file", "FileNotFound", "VSPHERE_FILE_FAULT"],
  ["fault-task-in-progress", "TaskInProgress", "VSPHERE_TASK_IN_PROGRESS"],
  ["fault-not-authenticated-soap", "NotAuthenticated", "VSPHERE_NOT_AUTHENTICATED"],
];

for (const [file, type, code] of captured) {
  test(`parseSoapFault() reads ${type} from ${file}.xml into ${code}`, () => {
    const answer = readEnvelope(fixture(file), "X");
    assert.equal(answer.kind, "fault");
    if (answer.kind !== "fault") return;
    const parsed = parseSoapFault(answer.fault);
    assert.equal(parsed.faultType, type);
    const err = faultError(parsed, "Op", "vm-1");
    assert.equal(err.code, code);
    assert.match(err.message, /^Op on vm-1 failed: /);
  });
}
