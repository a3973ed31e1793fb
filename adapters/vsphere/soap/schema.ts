/**
 * Typed bindings for the subset of vim25 this adapter sends: for each request and data type, its
 * fields in XSD sequence order (base type first), as govmomi and pyvmomi keep generated tables
 * rather than parse the WSDL at run time. Orders were taken from vim-types.xsd / vim-messagetypes.xsd
 * (vSphere 5.5 WSDL; later versions only append fields) with `tools/vsphere/xsd-order.py`, and only
 * the fields we may set are listed for the large types (their relative order is kept).
 * Field types: xsd leaf names, `MoRef`, `anyType`, or another entry of DATA_TYPES; `[]` = repeated.
 */
export type FieldType = string;
export type Field = readonly [name: string, type: FieldType];

export interface DataType {
  readonly base?: string;
  readonly fields: readonly Field[];
}

export const DATA_TYPES: Readonly<Record<string, DataType>> = {
  DynamicData: { fields: [] },
  PropertyFilterSpec: {
    base: "DynamicData",
    fields: [
      ["propSet", "PropertySpec[]"],
      ["objectSet", "ObjectSpec[]"],
      ["reportMissingObjectsInResults", "boolean"],
    ],
  },
  PropertySpec: {
    base: "DynamicData",
    fields: [
      ["type", "string"],
      ["all", "boolean"],
      ["pathSet", "string[]"],
    ],
  },
  ObjectSpec: {
    base: "DynamicData",
    fields: [
      ["obj", "MoRef"],
      ["skip", "boolean"],
      ["selectSet", "SelectionSpec[]"],
    ],
  },
  SelectionSpec: { base: "DynamicData", fields: [["name", "string"]] },
  TraversalSpec: {
    base: "SelectionSpec",
    fields: [
      ["type", "string"],
      ["path", "string"],
      ["skip", "boolean"],
      ["selectSet", "SelectionSpec[]"],
    ],
  },
  RetrieveOptions: { base: "DynamicData", fields: [["maxObjects", "int"]] },
  OptionValue: {
    base: "DynamicData",
    fields: [
      ["key", "string"],
      ["value", "anyType"],
    ],
  },
  VirtualMachineConfigSpec: {
    base: "DynamicData",
    fields: [
      ["changeVersion", "string"],
      ["name", "string"],
      ["annotation", "string"],
      ["extraConfig", "OptionValue[]"],
      ["changeTrackingEnabled", "boolean"],
    ],
  },
  EventFilterSpec: {
    base: "DynamicData",
    fields: [
      ["entity", "EventFilterSpecByEntity"],
      ["time", "EventFilterSpecByTime"],
      ["userName", "EventFilterSpecByUsername"],
      ["eventChainId", "int"],
      ["alarm", "MoRef"],
      ["scheduledTask", "MoRef"],
      ["disableFullMessage", "boolean"],
      ["category", "string[]"],
      ["type", "string[]"],
      ["tag", "string[]"],
      ["eventTypeId", "string[]"],
    ],
  },
  EventFilterSpecByEntity: {
    base: "DynamicData",
    fields: [
      ["entity", "MoRef"],
      ["recursion", "string"],
    ],
  },
  EventFilterSpecByTime: {
    base: "DynamicData",
    fields: [
      ["beginTime", "dateTime"],
      ["endTime", "dateTime"],
    ],
  },
  EventFilterSpecByUsername: {
    base: "DynamicData",
    fields: [
      ["systemUser", "boolean"],
      ["userList", "string[]"],
    ],
  },
  SessionManagerServiceRequestSpec: { base: "DynamicData", fields: [] },
  SessionManagerHttpServiceRequestSpec: {
    base: "SessionManagerServiceRequestSpec",
    fields: [
      ["method", "string"],
      ["url", "string"],
    ],
  },
};

/** Request messages: `_this` first, then the parameters in XSD order. */
export const METHODS: Readonly<Record<string, readonly Field[]>> = {
  RetrieveServiceContent: [["_this", "MoRef"]],
  Login: [
    ["_this", "MoRef"],
    ["userName", "string"],
    ["password", "string"],
    ["locale", "string"],
  ],
  Logout: [["_this", "MoRef"]],
  AcquireGenericServiceTicket: [
    ["_this", "MoRef"],
    ["spec", "SessionManagerServiceRequestSpec"],
  ],
  CreateContainerView: [
    ["_this", "MoRef"],
    ["container", "MoRef"],
    ["type", "string[]"],
    ["recursive", "boolean"],
  ],
  DestroyView: [["_this", "MoRef"]],
  RetrievePropertiesEx: [
    ["_this", "MoRef"],
    ["specSet", "PropertyFilterSpec[]"],
    ["options", "RetrieveOptions"],
  ],
  ContinueRetrievePropertiesEx: [
    ["_this", "MoRef"],
    ["token", "string"],
  ],
  CancelRetrievePropertiesEx: [
    ["_this", "MoRef"],
    ["token", "string"],
  ],
  CreateSnapshot_Task: [
    ["_this", "MoRef"],
    ["name", "string"],
    ["description", "string"],
    ["memory", "boolean"],
    ["quiesce", "boolean"],
  ],
  RemoveSnapshot_Task: [
    ["_this", "MoRef"],
    ["removeChildren", "boolean"],
    ["consolidate", "boolean"],
  ],
  ConsolidateVMDisks_Task: [["_this", "MoRef"]],
  ReconfigVM_Task: [
    ["_this", "MoRef"],
    ["spec", "VirtualMachineConfigSpec"],
  ],
  QueryChangedDiskAreas: [
    ["_this", "MoRef"],
    ["snapshot", "MoRef"],
    ["deviceKey", "int"],
    ["startOffset", "long"],
    ["changeId", "string"],
  ],
  QueryEvents: [
    ["_this", "MoRef"],
    ["filter", "EventFilterSpec"],
  ],
  Rename_Task: [
    ["_this", "MoRef"],
    ["newName", "string"],
  ],
  PowerOnVM_Task: [
    ["_this", "MoRef"],
    ["host", "MoRef"],
  ],
  PowerOffVM_Task: [["_this", "MoRef"]],
  ShutdownGuest: [["_this", "MoRef"]],
  CancelTask: [["_this", "MoRef"]],
};
