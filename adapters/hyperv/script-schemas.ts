/** zod schemas of the scripts' answers, with 5.1's shapes normalized (parse.ts helpers). */
import { z } from "zod";
import {
  CLUSTER_GROUP_STATES,
  CLUSTER_NODE_STATES,
  CONTROLLER_TYPES,
  IC_STATUSES,
  VHD_TYPES,
  VM_STATES,
  psDate,
  psEnum,
  psList,
} from "./parse.js";

const str = z.string();
const optStr = z
  .string()
  .nullable()
  .optional()
  .transform((v) => v ?? "");
const num = z.number();

export const clusterInfo = z.object({
  Cluster: z.string().nullable(),
  LocalNode: str,
  Nodes: psList(z.object({ Name: str, State: psEnum(CLUSTER_NODE_STATES, "ClusterNodeState") })),
  Groups: psList(
    z.object({
      Name: str,
      OwnerNode: str,
      State: psEnum(CLUSTER_GROUP_STATES, "ClusterGroupState"),
      VmId: optStr,
    }),
  ),
  Volumes: psList(z.object({ Name: str, OwnerNode: str, Path: str })),
});
export type ClusterInfo = z.output<typeof clusterInfo>;

export const nodeVm = z.object({
  Id: str,
  Name: str,
  State: psEnum(VM_STATES, "VMState"),
  Generation: num,
  Version: str,
  ComputerName: str,
  IsClustered: z.boolean(),
  GuestItems: psList(str),
  IntegrationServices: psList(
    z.object({
      Id: str,
      Name: str,
      Enabled: z.boolean(),
      PrimaryOperationalStatus: psEnum(IC_STATUSES, "VMIntegrationComponentOperationalStatus").nullable(),
    }),
  ),
  Disks: psList(
    z.object({
      ControllerType: psEnum(CONTROLLER_TYPES, "ControllerType"),
      ControllerNumber: num,
      ControllerLocation: num,
      Path: str,
      SupportPersistentReservations: z.boolean(),
      Size: num.nullable(),
      VhdType: psEnum(VHD_TYPES, "VhdType").nullable(),
      DiskIdentifier: optStr,
    }),
  ),
  Checkpoints: psList(
    z.object({ Id: str, Name: str, SnapshotType: z.union([num, str]), CreationTime: psDate }),
  ),
});
export type NodeVm = z.output<typeof nodeVm>;
export const nodeVms = psList(nodeVm);

export const haltEvent = z.object({ Id: num, TimeCreated: psDate, VmId: str, Node: str });
export type HaltEvent = z.output<typeof haltEvent>;
export const haltEvents = psList(haltEvent);

export const methodStart = z.object({ Found: z.boolean(), ReturnValue: num.nullable(), JobId: optStr });
export type MethodStart = z.output<typeof methodStart>;

export const jobInfo = z.union([
  z.object({ Found: z.literal(false) }),
  z.object({
    Found: z.literal(true),
    JobState: num,
    ErrorCode: num,
    ErrorDescription: optStr,
    SnapshotIds: psList(str),
    ReferencePointIds: psList(str),
  }),
]);
export type JobInfo = z.output<typeof jobInfo>;

export const snapshotDetails = z.union([
  z.object({ Found: z.literal(false) }),
  z.object({
    Found: z.literal(true),
    InstanceID: str,
    ElementName: str,
    VirtualSystemType: str,
    CreationTime: psDate,
    Disks: psList(z.object({ Path: str, Size: num, DiskIdentifier: optStr })),
  }),
]);
export type SnapshotDetails = z.output<typeof snapshotDetails>;

export const recoverySnapshot = z.object({ InstanceID: str, ElementName: str, CreationTime: psDate });
export type RecoverySnapshot = z.output<typeof recoverySnapshot>;
export const recoverySnapshots = psList(recoverySnapshot);

export const referencePoint = z.object({
  InstanceID: str,
  ElementName: str,
  ConsistencyLevel: num,
  VirtualDiskIdentifiers: psList(str),
  ResilientChangeTrackingIdentifiers: psList(str),
});
export type ReferencePoint = z.output<typeof referencePoint>;
export const referencePoints = psList(referencePoint);

export const diskChanges = z.object({
  ReturnValue: num,
  JobId: optStr,
  ProcessedByteLength: num.nullable(),
  Offsets: psList(num),
  Lengths: psList(num),
});
export type DiskChanges = z.output<typeof diskChanges>;

export const collection = z.object({ CollectionID: str, ElementName: str, Members: psList(str) });
export type Collection = z.output<typeof collection>;
export const collections = psList(collection);

export const vhdInfo = z.object({ Path: str, Size: num, DiskIdentifier: str, ParentPath: optStr });
export type VhdInfo = z.output<typeof vhdInfo>;
