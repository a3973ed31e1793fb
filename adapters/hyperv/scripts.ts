/**
 * Every PowerShell script the adapter sends: constant bodies that read their arguments from `$A`
 * (decoded from base64 JSON by the wrapper) and return one object. Lists are returned with the unary
 * comma so a one-element list stays a list. Answers are parsed by the schemas in script-schemas.ts.
 */
import type { z } from "zod";
import type { SnapvisorError } from "../../src/domain/errors.js";
import { hypervError, type HypervErrorCode } from "./errors.js";
import { buildInvocation } from "./invocation.js";
import { parseData, parseEnvelope, type PsFailure } from "./parse.js";
import * as S from "./script-schemas.js";
import type { PsTransport } from "./transport.js";

export interface ScriptDef<T> {
  readonly name: string;
  readonly body: string;
  readonly schema: z.ZodType<T>;
}

const NS = "$ns = 'root\\virtualization\\v2'";
const CIM = "-ComputerName $A.node -Namespace $ns";

export const clusterInfo: ScriptDef<S.ClusterInfo> = {
  name: "cluster inventory",
  schema: S.clusterInfo,
  body: `
$cluster = Get-Cluster -ErrorAction SilentlyContinue
if ($null -eq $cluster) {
  [pscustomobject]@{ Cluster = $null; LocalNode = $env:COMPUTERNAME; Nodes = @(); Groups = @(); Volumes = @() }
} else {
  [pscustomobject]@{
    Cluster = [string]$cluster.Name
    LocalNode = $env:COMPUTERNAME
    Nodes = @(Get-ClusterNode | ForEach-Object { [pscustomobject]@{ Name = [string]$_.Name; State = $_.State } })
    Groups = @(Get-ClusterGroup | Where-Object { $_.GroupType -eq 'VirtualMachine' } | ForEach-Object {
      $g = $_
      $vmId = @($g | Get-ClusterResource | Where-Object { $_.ResourceType.Name -eq 'Virtual Machine' } | Get-ClusterParameter -Name VmId)
      [pscustomobject]@{ Name = [string]$g.Name; OwnerNode = [string]$g.OwnerNode.Name; State = $g.State; VmId = [string]($vmId | Select-Object -First 1).Value }
    })
    Volumes = @(Get-ClusterSharedVolume | ForEach-Object { [pscustomobject]@{ Name = [string]$_.Name; OwnerNode = [string]$_.OwnerNode.Name; Path = [string]$_.SharedVolumeInfo[0].FriendlyVolumeName } })
  }
}`,
};

export const nodeVms: ScriptDef<S.NodeVm[]> = {
  name: "VM inventory",
  schema: S.nodeVms,
  body: `
$vms = @(Get-VM -ComputerName $A.node)
$kvp = @{}
Get-CimInstance -ComputerName $A.node -Namespace 'root\\virtualization\\v2' -ClassName Msvm_KvpExchangeComponent | ForEach-Object { $kvp[[string]$_.SystemName] = $_.GuestIntrinsicExchangeItems }
,@($vms | ForEach-Object {
  $vm = $_
  [pscustomobject]@{
    Id = $vm.Id.ToString()
    Name = $vm.Name
    State = $vm.State
    Generation = $vm.Generation
    Version = [string]$vm.Version
    ComputerName = [string]$vm.ComputerName
    IsClustered = $vm.IsClustered
    GuestItems = @($kvp[$vm.Id.ToString()] | Where-Object { $null -ne $_ })
    IntegrationServices = @(Get-VMIntegrationService -VM $vm | ForEach-Object { [pscustomobject]@{ Id = [string]$_.Id; Name = $_.Name; Enabled = $_.Enabled; PrimaryOperationalStatus = $_.PrimaryOperationalStatus } })
    Disks = @(Get-VMHardDiskDrive -VM $vm | ForEach-Object {
      $d = $_
      $vhd = $null
      if (-not $d.Path.EndsWith('.vhds')) { $vhd = Get-VHD -Path $d.Path -ComputerName $A.node -ErrorAction SilentlyContinue }
      [pscustomobject]@{ ControllerType = $d.ControllerType; ControllerNumber = $d.ControllerNumber; ControllerLocation = $d.ControllerLocation; Path = $d.Path; SupportPersistentReservations = $d.SupportPersistentReservations; Size = $vhd.Size; VhdType = $vhd.VhdType; DiskIdentifier = [string]$vhd.DiskIdentifier }
    })
    Checkpoints = @(Get-VMSnapshot -VM $vm | ForEach-Object { [pscustomobject]@{ Id = $_.Id.ToString(); Name = $_.Name; SnapshotType = $_.SnapshotType; CreationTime = $_.CreationTime } })
  }
})`,
};

export const haltEvents: ScriptDef<S.HaltEvent[]> = {
  name: "Hyper-V-Worker-Admin halt events",
  schema: S.haltEvents,
  body: `
$filter = @{ LogName = 'Microsoft-Windows-Hyper-V-Worker-Admin'; Id = 18502,18504,18508,18528,18539,18540,18550,18560,18601,18608 }
$events = @(Get-WinEvent -ComputerName $A.node -FilterHashtable $filter -ErrorAction SilentlyContinue)
,@($events | Where-Object { $A.vmIds -contains [string]$_.Properties[1].Value } | ForEach-Object { [pscustomobject]@{ Id = $_.Id; TimeCreated = $_.TimeCreated; VmId = [string]$_.Properties[1].Value; Node = [string]$_.MachineName } })`,
};

const settingsXml = `'<INSTANCE CLASSNAME="Msvm_VirtualSystemSnapshotSettingData"><PROPERTY NAME="ConsistencyLevel" TYPE="uint8"><VALUE>' + [int]$A.level + '</VALUE></PROPERTY><PROPERTY NAME="IgnoreNonSnapshottableDisks" TYPE="boolean"><VALUE>TRUE</VALUE></PROPERTY><PROPERTY NAME="GuestBackupType" TYPE="uint8"><VALUE>2</VALUE></PROPERTY></INSTANCE>'`;

export const createSnapshot: ScriptDef<S.MethodStart> = {
  name: "CreateSnapshot",
  schema: S.methodStart,
  body: `
${NS}
$settings = ${settingsXml}
if ($A.collectionId) {
  $target = @(Get-CimInstance ${CIM} -ClassName Msvm_VirtualSystemCollection | Where-Object { $_.CollectionID -eq $A.collectionId })
  $svc = Get-CimInstance ${CIM} -ClassName Msvm_CollectionSnapshotService
} else {
  $target = @(Get-CimInstance ${CIM} -ClassName Msvm_ComputerSystem | Where-Object { $_.Name -eq $A.vmId })
  $svc = Get-CimInstance ${CIM} -ClassName Msvm_VirtualSystemSnapshotService
}
if ($target.Count -eq 0) { [pscustomobject]@{ Found = $false; ReturnValue = $null; JobId = $null } } else {
  $r = Invoke-CimMethod -InputObject $svc -MethodName CreateSnapshot -Arguments @{ AffectedSystem = $target[0]; SnapshotSettings = $settings; SnapshotType = [uint16]32768 }
  [pscustomobject]@{ Found = $true; ReturnValue = $r.ReturnValue; JobId = [string]$r.Job.InstanceID }
}`,
};

export const pollJob: ScriptDef<S.JobInfo> = {
  name: "Msvm_ConcreteJob",
  schema: S.jobInfo,
  body: `
${NS}
$job = @(Get-CimInstance ${CIM} -ClassName Msvm_ConcreteJob | Where-Object { $_.InstanceID -eq $A.jobId })
if ($job.Count -eq 0) { [pscustomobject]@{ Found = $false } } else {
  $snap = @(Get-CimAssociatedInstance -InputObject $job[0] -ResultClassName Msvm_VirtualSystemSettingData)
  $rp = @(Get-CimAssociatedInstance -InputObject $job[0] -ResultClassName Msvm_VirtualSystemReferencePoint)
  [pscustomobject]@{ Found = $true; JobState = $job[0].JobState; ErrorCode = $job[0].ErrorCode; ErrorDescription = [string]$job[0].ErrorDescription; SnapshotIds = @($snap | ForEach-Object { [string]$_.InstanceID }); ReferencePointIds = @($rp | ForEach-Object { [string]$_.InstanceID }) }
}`,
};

export const snapshotDetails: ScriptDef<S.SnapshotDetails> = {
  name: "checkpoint details",
  schema: S.snapshotDetails,
  body: `
${NS}
$s = @(Get-CimInstance ${CIM} -ClassName Msvm_VirtualSystemSettingData | Where-Object { $_.InstanceID -eq $A.snapshotId })
if ($s.Count -eq 0) { [pscustomobject]@{ Found = $false; Disks = @() } } else {
  $disks = @(Get-CimAssociatedInstance -InputObject $s[0] -ResultClassName Msvm_StorageAllocationSettingData | ForEach-Object {
    $path = [string]$_.HostResource[0]
    $vhd = Get-VHD -Path $path -ComputerName $A.node
    [pscustomobject]@{ Path = $path; Size = $vhd.Size; DiskIdentifier = [string]$vhd.DiskIdentifier }
  })
  [pscustomobject]@{ Found = $true; InstanceID = [string]$s[0].InstanceID; ElementName = [string]$s[0].ElementName; VirtualSystemType = [string]$s[0].VirtualSystemType; CreationTime = $s[0].CreationTime; Disks = $disks }
}`,
};

export const renameSnapshot: ScriptDef<S.MethodStart> = {
  name: "ModifySystemSettings",
  schema: S.methodStart,
  body: `
${NS}
$svc = Get-CimInstance ${CIM} -ClassName Msvm_VirtualSystemManagementService
$xml = '<INSTANCE CLASSNAME="Msvm_VirtualSystemSettingData"><PROPERTY NAME="InstanceID" TYPE="string"><VALUE>' + [Security.SecurityElement]::Escape([string]$A.snapshotId) + '</VALUE></PROPERTY><PROPERTY NAME="ElementName" TYPE="string"><VALUE>' + [Security.SecurityElement]::Escape([string]$A.name) + '</VALUE></PROPERTY></INSTANCE>'
$r = Invoke-CimMethod -InputObject $svc -MethodName ModifySystemSettings -Arguments @{ SystemSettings = $xml }
[pscustomobject]@{ Found = $true; ReturnValue = $r.ReturnValue; JobId = [string]$r.Job.InstanceID }`,
};

export const snapshotAction: ScriptDef<S.MethodStart> = {
  name: "checkpoint destroy/convert",
  schema: S.methodStart,
  body: `
${NS}
$s = @(Get-CimInstance ${CIM} -ClassName Msvm_VirtualSystemSettingData | Where-Object { $_.InstanceID -eq $A.snapshotId })
if ($s.Count -eq 0) { [pscustomobject]@{ Found = $false; ReturnValue = $null; JobId = $null } } else {
  if ($A.collection) { $class = 'Msvm_CollectionSnapshotService' } else { $class = 'Msvm_VirtualSystemSnapshotService' }
  $svc = Get-CimInstance ${CIM} -ClassName $class
  if ($A.action -eq 'convert') {
    $xml = '<INSTANCE CLASSNAME="Msvm_VirtualSystemReferencePointSettingData"><PROPERTY NAME="ElementName" TYPE="string"><VALUE>' + [Security.SecurityElement]::Escape([string]$A.referencePointName) + '</VALUE></PROPERTY></INSTANCE>'
    $r = Invoke-CimMethod -InputObject $svc -MethodName ConvertToReferencePoint -Arguments @{ AffectedSnapshot = $s[0]; ReferencePointSettings = $xml }
  } else {
    $r = Invoke-CimMethod -InputObject $svc -MethodName DestroySnapshot -Arguments @{ AffectedSnapshot = $s[0] }
  }
  [pscustomobject]@{ Found = $true; ReturnValue = $r.ReturnValue; JobId = [string]$r.Job.InstanceID }
}`,
};

export const vhdInfo: ScriptDef<S.VhdInfo> = {
  name: "Get-VHD",
  schema: S.vhdInfo,
  body: `
$vhd = Get-VHD -Path $A.path -ComputerName $A.node
[pscustomobject]@{ Path = [string]$vhd.Path; Size = $vhd.Size; DiskIdentifier = [string]$vhd.DiskIdentifier; ParentPath = [string]$vhd.ParentPath }`,
};

export type CollectionList = S.Collection[];

export const collections: ScriptDef<S.Collection[]> = {
  name: "VM collections",
  schema: S.collections,
  body: `
${NS}
,@(Get-CimInstance ${CIM} -ClassName Msvm_VirtualSystemCollection | ForEach-Object {
  $c = $_
  [pscustomobject]@{ CollectionID = [string]$c.CollectionID; ElementName = [string]$c.ElementName; Members = @(Get-CimAssociatedInstance -InputObject $c -ResultClassName Msvm_ComputerSystem | ForEach-Object { [string]$_.Name }) }
})`,
};

export const recoverySnapshots: ScriptDef<S.RecoverySnapshot[]> = {
  name: "recovery checkpoints",
  schema: S.recoverySnapshots,
  body: `
${NS}
,@(Get-CimInstance ${CIM} -ClassName Msvm_VirtualSystemSettingData | Where-Object { $_.VirtualSystemType -eq 'Microsoft:Hyper-V:Snapshot:Recovery' -and $_.VirtualSystemIdentifier -eq $A.ownerId } | ForEach-Object { [pscustomobject]@{ InstanceID = [string]$_.InstanceID; ElementName = [string]$_.ElementName; CreationTime = $_.CreationTime } })`,
};

export const referencePoints: ScriptDef<S.ReferencePoint[]> = {
  name: "reference points",
  schema: S.referencePoints,
  body: `
${NS}
,@(Get-CimInstance ${CIM} -ClassName Msvm_VirtualSystemReferencePoint | Where-Object { $_.VirtualSystemIdentifier -eq $A.ownerId } | ForEach-Object { [pscustomobject]@{ InstanceID = [string]$_.InstanceID; ElementName = [string]$_.ElementName; ConsistencyLevel = $_.ConsistencyLevel; VirtualDiskIdentifiers = @($_.VirtualDiskIdentifiers); ResilientChangeTrackingIdentifiers = @($_.ResilientChangeTrackingIdentifiers) } })`,
};

export const destroyReferencePoint: ScriptDef<S.MethodStart> = {
  name: "DestroyReferencePoint",
  schema: S.methodStart,
  body: `
${NS}
$rp = @(Get-CimInstance ${CIM} -ClassName Msvm_VirtualSystemReferencePoint | Where-Object { $_.InstanceID -eq $A.referencePointId })
if ($rp.Count -eq 0) { [pscustomobject]@{ Found = $false; ReturnValue = $null; JobId = $null } } else {
  $svc = Get-CimInstance ${CIM} -ClassName Msvm_VirtualSystemReferencePointService
  $r = Invoke-CimMethod -InputObject $svc -MethodName DestroyReferencePoint -Arguments @{ AffectedReferencePoint = $rp[0] }
  [pscustomobject]@{ Found = $true; ReturnValue = $r.ReturnValue; JobId = [string]$r.Job.InstanceID }
}`,
};

export const diskChanges: ScriptDef<S.DiskChanges> = {
  name: "GetVirtualDiskChanges",
  schema: S.diskChanges,
  body: `
${NS}
$svc = Get-CimInstance ${CIM} -ClassName Msvm_ImageManagementService
$r = Invoke-CimMethod -InputObject $svc -MethodName GetVirtualDiskChanges -Arguments @{ Path = [string]$A.path; LimitId = [string]$A.limitId; TargetSnapshotId = ''; ByteOffset = [uint64]$A.offset; ByteLength = [uint64]$A.length }
[pscustomobject]@{ ReturnValue = $r.ReturnValue; JobId = [string]$r.Job.InstanceID; ProcessedByteLength = $r.ProcessedByteLength; Offsets = @($r.ChangedByteOffsets | Where-Object { $null -ne $_ }); Lengths = @($r.ChangedByteLengths | Where-Object { $null -ne $_ }) }`,
};

/** Every script the adapter can send (the grammar test parses each one). */
export const ALL_SCRIPTS: ReadonlyArray<ScriptDef<unknown>> = [
  clusterInfo,
  nodeVms,
  haltEvents,
  createSnapshot,
  pollJob,
  snapshotDetails,
  renameSnapshot,
  snapshotAction,
  recoverySnapshots,
  referencePoints,
  destroyReferencePoint,
  diskChanges,
  collections,
  vhdInfo,
];

/** A failure inside the script, mapped to a code by the PowerShell error it carries. */
export function scriptFailure(
  def: ScriptDef<unknown>,
  where: string,
  e: PsFailure,
): SnapvisorError<HypervErrorCode> {
  const unreachable = /0x80338126|WinRM|not reachable/i.test(`${e.id} ${e.message}`);
  const code: HypervErrorCode = unreachable ? "HYPERV_NODE_DOWN" : "HYPERV_SCRIPT_FAILED";
  return hypervError(code, `${def.name} on ${where} failed: ${e.message}`, {
    retryable: unreachable,
    details: { errorId: e.id, exception: e.type, category: e.category },
  });
}

export async function runScript<T>(
  transport: PsTransport,
  def: ScriptDef<T>,
  args: Record<string, unknown>,
  signal?: AbortSignal,
): Promise<T> {
  const where = typeof args.node === "string" ? `node ${args.node}` : transport.describe;
  const out = await transport.run(buildInvocation(def.body, args), signal);
  const env = parseEnvelope(out.stdout, `${def.name} on ${where}`);
  if (!env.ok) throw scriptFailure(def, where, env.error);
  return parseData(def.schema, env.data, `${def.name} on ${where}`);
}
