/**
 * WMI methods of the backup path: snapshot create/destroy/convert (per VM and per guest-cluster
 * collection), reference point destroy, GetVirtualDiskChanges, ModifySystemSettings (rename).
 * Long operations return 4096 and a Msvm_ConcreteJob that completes when polled.
 */
import { XMLParser } from "fast-xml-parser";
import type { HostContext } from "./host-context.js";
import { jobError, rctId, type SimDisk, type SimSnapshot, type SimVm } from "./model.js";
import { vmMatches } from "./faults.js";
import { cimError, cimRef, jobInstance, type CimRef } from "./cim.js";
import { changedRanges, checkLimitId, RctFailure } from "./rct.js";
import type { PsHashtable } from "./ps/values.js";
import { PsObject, toNumber, toStr, type PsValue } from "./ps/values.js";

const xml = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "",
  isArray: (name) => name === "PROPERTY",
});

function scalarText(v: unknown): string {
  return typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? String(v) : "";
}

/** Parses an embedded instance (CIM-XML `<INSTANCE>` text) into property name -> string value. */
export function parseEmbeddedInstance(text: string, method: string): Map<string, string> {
  let doc: { INSTANCE?: { CLASSNAME?: string; PROPERTY?: Array<{ NAME?: string; VALUE?: unknown }> } };
  try {
    doc = xml.parse(text) as typeof doc;
  } catch {
    throw cimError(`Invalid parameter `, "0x80041008", "InvokeCimMethod", "InvalidArgument");
  }
  if (!doc.INSTANCE)
    throw cimError(
      `${method}: the embedded instance is not CIM-XML`,
      "0x80041008",
      "InvokeCimMethod",
      "InvalidArgument",
    );
  const out = new Map<string, string>();
  for (const p of doc.INSTANCE.PROPERTY ?? []) if (p.NAME) out.set(p.NAME.toLowerCase(), scalarText(p.VALUE));
  return out;
}

function result(props: Record<string, PsValue>): PsObject {
  return new PsObject("Microsoft.Management.Infrastructure.CimMethodResult", props);
}

function owned(ctx: HostContext, target: CimRef, vm: SimVm | undefined): SimVm {
  // VMMS on a node manages only the VMs it runs: a stale object path (VM moved) is "Not found".
  if (!vm || vm.node.toLowerCase() !== target.node.toLowerCase() || !ctx.model.vmById(vm.id)) {
    throw cimError("Not found ", "0x80041002", "InvokeCimMethod", "ObjectNotFound");
  }
  return vm;
}

function snapshotArg(
  ctx: HostContext,
  target: CimRef,
  args: PsHashtable,
): { snap: SimSnapshot; vm: SimVm | undefined } {
  const ref = cimRef(args.get("AffectedSnapshot"));
  const snap = ref?.snapshot;
  if (!snap || !ctx.model.snapshots.includes(snap))
    throw cimError("Not found ", "0x80041002", "InvokeCimMethod", "ObjectNotFound");
  if (snap.collectionId !== undefined) return { snap, vm: undefined };
  return { snap, vm: owned(ctx, target, ctx.model.vmById(snap.vmId)) };
}

function started(
  target: CimRef,
  ctx: HostContext,
  method: string,
  run: (job: ReturnType<HostContext["model"]["newJob"]>) => Promise<void>,
  extra: Record<string, PsValue> = {},
): PsObject {
  const job = ctx.model.newJob(method, target.node, async () => run(job));
  return result({ ReturnValue: 4096, Job: jobInstance(target.node, job), ...extra });
}

function checkVss(vm: SimVm): void {
  if (vm.state === "Off") return;
  const vss = vm.ics.find((i) => i.name === "VSS");
  if (vm.state !== "Running" || !vss?.enabled || vss.status !== 2) {
    throw jobError(
      `Could not create backup checkpoint for virtual machine '${vm.name}': The backup integration service is not available or not running in the guest. (0x80070032). (Virtual machine ID ${vm.id.toUpperCase()})`,
    );
  }
}

async function createVmSnapshot(ctx: HostContext, target: CimRef, args: PsHashtable): Promise<PsObject> {
  const m = ctx.model;
  const vm = owned(ctx, target, cimRef(args.get("AffectedSystem"))?.vm);
  const type = toNumber(args.get("SnapshotType") ?? 2, "System.UInt16");
  const settings = parseEmbeddedInstance(toStr(args.get("SnapshotSettings") ?? null), "CreateSnapshot");
  const level = Number(settings.get("consistencylevel") ?? "1");
  const ignoreShared = (settings.get("ignorenonsnapshottabledisks") ?? "false").toLowerCase() === "true";
  if (type !== 2 && type !== 32768) return result({ ReturnValue: 32773, Job: null, ResultingSnapshot: null });
  return started(target, ctx, "CreateSnapshot", async (job) => {
    if (vm.state.endsWith("Critical"))
      throw jobError(
        `'${vm.name}' could not create a checkpoint: the virtual machine is in a critical state. (Virtual machine ID ${vm.id.toUpperCase()})`,
        32775,
      );
    if (!ignoreShared && vm.drives.some((d) => d.disk.shared)) {
      throw jobError(
        `Could not create checkpoint for virtual machine '${vm.name}': a shared virtual hard disk is attached. (Virtual machine ID ${vm.id.toUpperCase()})`,
        32773,
      );
    }
    if (level === 1) {
      checkVss(vm);
      if (vm.state === "Running" && m.faults.take("vss-failure", (r) => vmMatches(r, vm.name))) {
        throw jobError(
          `Could not create backup checkpoint for virtual machine '${vm.name}': The writer experienced a non-transient error. If the backup process is retried, the error is likely to reoccur. (0x800423F4). (Virtual machine ID ${vm.id.toUpperCase()})`,
        );
      }
    }
    const stamp = m.now().toISOString().replace("T", " ").slice(0, 19);
    job.result.snapshot = await m.createCheckpoint(vm, {
      type: type === 32768 ? "Recovery" : "Standard",
      name: `${vm.name} - Backup - (${stamp})`,
      consistencyLevel: level,
    });
    const move = m.faults.take("migrate-after-snapshot", (r) => vmMatches(r, vm.name));
    if (move) vm.node = m.node(move.to)?.name ?? move.to;
  });
}

async function createCollectionSnapshot(
  ctx: HostContext,
  target: CimRef,
  args: PsHashtable,
): Promise<PsObject> {
  const m = ctx.model;
  const collection = cimRef(args.get("AffectedSystem"))?.collection;
  if (!collection) throw cimError("Not found ", "0x80041002", "InvokeCimMethod", "ObjectNotFound");
  const settings = parseEmbeddedInstance(toStr(args.get("SnapshotSettings") ?? null), "CreateSnapshot");
  const level = Number(settings.get("consistencylevel") ?? "1");
  return started(target, ctx, "CreateSnapshot", async (job) => {
    const members = collection.members.map((n) => m.vmByName(n)).filter((v): v is SimVm => v !== undefined);
    const disks = new Set<SimDisk>();
    for (const v of members) for (const d of v.drives) if (d.disk.shared) disks.add(d.disk);
    if ([...disks].some((d) => d.format === "vhds"))
      throw jobError(
        `Failed to create checkpoint on collection '${collection.name}': VHD Sets are not supported by this host.`,
        32770,
      );
    if (level === 1) {
      const running = members.filter((v) => v.state === "Running");
      for (const v of running) checkVss(v);
      if (running.some((v) => m.faults.take("vss-failure", (r) => vmMatches(r, v.name)))) {
        throw jobError(
          `Failed to create checkpoint on collection '${collection.name}': failed to query the cluster service inside the Guest VM. (0x800423F4)`,
        );
      }
    }
    const owner = members[0];
    if (!owner) throw jobError(`Collection '${collection.name}' has no member VMs.`, 32773);
    job.result.snapshot = await m.createCheckpoint(owner, {
      type: "Recovery",
      name: `${collection.name} - Backup`,
      consistencyLevel: level,
      disks: [...disks],
      collectionId: collection.id,
    });
  });
}

function mergeFault(ctx: HostContext, snap: SimSnapshot, vm: SimVm | undefined): void {
  const name = vm?.name ?? "";
  if (ctx.model.faults.take("merge-failure", (r) => r.vm === undefined || vmMatches(r, name))) {
    const file = snap.frozen[0]?.child ?? "";
    throw jobError(
      `Background disk merge failed to complete: The process cannot access the file because it is being used by another process. (0x80070020). (Merging '${file}')`,
    );
  }
}

async function getVirtualDiskChanges(ctx: HostContext, target: CimRef, args: PsHashtable): Promise<PsObject> {
  const m = ctx.model;
  const path = toStr(args.get("Path") ?? null);
  const disk = m.diskOfFile(path);
  if (!disk) return result({ ReturnValue: 32779, Job: null });
  const fault = m.faults.take(
    "rct-invalid",
    (r) =>
      disk.chain.some((f) => f.toLowerCase() === r.disk.toLowerCase()) ||
      disk.basePath.toLowerCase() === r.disk.toLowerCase(),
  );
  if (fault) m.resetTracking(disk, fault.code);
  const frozen = m.snapshots
    .flatMap((s) => s.frozen)
    .find((f) => f.file.toLowerCase() === path.toLowerCase() && f.disk === disk);
  const targetGen = frozen ? frozen.gen : disk.rct.gen;
  const targetEpoch = frozen ? frozen.epoch : disk.rct.epoch;
  const offset = toNumber(args.get("ByteOffset") ?? 0, "System.UInt64");
  const length = toNumber(args.get("ByteLength") ?? 0, "System.UInt64");
  if (offset + length > disk.size || length === 0) return result({ ReturnValue: 32773, Job: null });
  try {
    const limitGen = checkLimitId(toStr(args.get("LimitId") ?? null), disk.rct, targetEpoch, targetGen);
    const processed = Math.min(length, m.scenario.rctPageBytes);
    const ranges = changedRanges(disk.rct.writes, limitGen, targetGen, offset, processed);
    return result({
      ReturnValue: 0,
      Job: null,
      ProcessedByteLength: processed,
      ChangedByteOffsets: ranges.map((r) => r.start),
      ChangedByteLengths: ranges.map((r) => r.length),
    });
  } catch (err) {
    if (!(err instanceof RctFailure)) throw err;
    const job = m.newJob("GetVirtualDiskChanges", target.node, async () => {
      throw jobError(`${err.message} (${err.code})`, parseInt(err.code, 16));
    });
    await m.pollJob(job);
    return result({ ReturnValue: 4096, Job: jobInstance(target.node, job) });
  }
}

export async function invokeMethod(
  ctx: HostContext,
  target: CimRef,
  method: string,
  args: PsHashtable,
): Promise<PsObject> {
  const m = ctx.model;
  const key = `${target.cimClass}.${method}`.toLowerCase();
  switch (key) {
    case "msvm_virtualsystemsnapshotservice.createsnapshot":
      return createVmSnapshot(ctx, target, args);
    case "msvm_collectionsnapshotservice.createsnapshot":
      return createCollectionSnapshot(ctx, target, args);
    case "msvm_virtualsystemsnapshotservice.destroysnapshot":
    case "msvm_collectionsnapshotservice.destroysnapshot": {
      const { snap, vm } = snapshotArg(ctx, target, args);
      return started(target, ctx, "DestroySnapshot", async () => {
        mergeFault(ctx, snap, vm);
        await m.removeCheckpoint(snap);
      });
    }
    case "msvm_virtualsystemsnapshotservice.converttoreferencepoint":
    case "msvm_collectionsnapshotservice.converttoreferencepoint": {
      const { snap, vm } = snapshotArg(ctx, target, args);
      if (snap.type !== "Recovery") return result({ ReturnValue: 32773, Job: null });
      const settings = args.has("ReferencePointSettings")
        ? parseEmbeddedInstance(toStr(args.get("ReferencePointSettings") ?? null), "ConvertToReferencePoint")
        : new Map<string, string>();
      return started(target, ctx, "ConvertToReferencePoint", async (job) => {
        mergeFault(ctx, snap, vm);
        const rp = {
          instanceId: `Microsoft:${snap.instanceId.replace(/^Microsoft:/, "")}:RP`,
          vmId: snap.vmId,
          name: settings.get("elementname") ?? "",
          consistencyLevel: snap.consistencyLevel,
          disks: snap.frozen.map((f) => ({
            diskId: f.disk.diskId,
            rctId: rctId({ ...f.disk.rct, epoch: f.epoch }, f.gen),
          })),
        };
        await m.removeCheckpoint(snap);
        m.referencePoints.push(rp);
        job.result.referencePoint = rp;
      });
    }
    case "msvm_virtualsystemreferencepointservice.destroyreferencepoint": {
      const rp = cimRef(args.get("AffectedReferencePoint"))?.referencePoint;
      if (!rp || !m.referencePoints.includes(rp))
        throw cimError("Not found ", "0x80041002", "InvokeCimMethod", "ObjectNotFound");
      return started(target, ctx, "DestroyReferencePoint", async () => {
        m.referencePoints.splice(m.referencePoints.indexOf(rp), 1);
      });
    }
    case "msvm_imagemanagementservice.getvirtualdiskchanges":
      return getVirtualDiskChanges(ctx, target, args);
    case "msvm_virtualsystemmanagementservice.modifysystemsettings": {
      const settings = parseEmbeddedInstance(
        toStr(args.get("SystemSettings") ?? null),
        "ModifySystemSettings",
      );
      const snap = m.snapshots.find(
        (s) => s.instanceId.toLowerCase() === (settings.get("instanceid") ?? "").toLowerCase(),
      );
      if (!snap) return result({ ReturnValue: 32779, Job: null });
      const name = settings.get("elementname");
      if (name !== undefined) snap.name = name;
      return result({ ReturnValue: 0, Job: null });
    }
  }
  throw cimError(
    `Method '${method}' of class '${target.cimClass}' is not supported by this host. `,
    "0x8004100c",
    "InvokeCimMethod",
    "NotImplemented",
  );
}
