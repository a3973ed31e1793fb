/**
 * How a powered-off VM last went down, from `runtime.cleanPowerOff` and its power events
 * (EventManager.QueryEvents, vCenter). `decideShutdown` is pure; no evidence means `unknown`, which
 * the consistency decision treats as dirty.
 *
 * Evidence, strongest first:
 * - `cleanPowerOff === false`: the VMX did not stop in order (host crash, power loss): dirty.
 * - The last power-off event: HA isolation power-off is dirty; isolation shutdown is clean when its
 *   `shutdownResult` is `shutdown`; a plain `VmPoweredOffEvent` is clean only if a
 *   `VmGuestShutdownEvent` came after the preceding power-on (the guest OS shut down first),
 *   otherwise it was a hard power-off: dirty.
 * - `cleanPowerOff === true` with no power-off event at all (standalone ESXi keeps little history):
 *   clean, as VMware documents the flag ("orderly power off").
 */
import type { ShutdownKind } from "../../src/domain/hypervisor.js";
import { isSnapvisorError } from "../../src/domain/errors.js";
import type { VimClient } from "./client.js";
import { arr, eventSchema, parseAnswer, type VmEvent } from "./parse.js";
import { toPlain } from "./soap/decode.js";
import type { MoRef } from "./soap/envelope.js";

export const POWER_EVENT_TYPES = [
  "VmPoweredOnEvent",
  "VmPoweredOffEvent",
  "VmPowerOffOnIsolationEvent",
  "VmShutdownOnIsolationEvent",
  "VmGuestShutdownEvent",
] as const;

const OFF_EVENTS = new Set(["VmPoweredOffEvent", "VmPowerOffOnIsolationEvent", "VmShutdownOnIsolationEvent"]);

export interface ShutdownEvidence {
  readonly kind: ShutdownKind;
  readonly detail: string;
}

function at(e: VmEvent): string {
  return `${e._type} at ${e.createdTime}${e.userName === "" ? "" : ` by "${e.userName}"`}`;
}

export function decideShutdown(
  cleanPowerOff: boolean | undefined,
  events: readonly VmEvent[],
): ShutdownEvidence {
  if (cleanPowerOff === false) {
    return {
      kind: "dirty",
      detail: "runtime.cleanPowerOff is false (the VM did not stop in order: host or VMX failure)",
    };
  }
  const sorted = [...events].sort((a, b) => a.key - b.key);
  const offIndex = sorted.findLastIndex((e) => OFF_EVENTS.has(e._type));
  const off = sorted[offIndex];
  if (off !== undefined) {
    if (off._type === "VmPowerOffOnIsolationEvent")
      return { kind: "dirty", detail: `HA isolation response powered it off (${at(off)})` };
    if (off._type === "VmShutdownOnIsolationEvent") {
      return off.shutdownResult === "shutdown"
        ? { kind: "clean", detail: `HA isolation response shut the guest down (${at(off)})` }
        : {
            kind: "dirty",
            detail: `HA isolation shutdown ended as "${off.shutdownResult ?? "unset"}" (${at(off)})`,
          };
    }
    const onIndex = sorted.slice(0, offIndex).findLastIndex((e) => e._type === "VmPoweredOnEvent");
    const guest = sorted.slice(onIndex + 1, offIndex).findLast((e) => e._type === "VmGuestShutdownEvent");
    if (guest !== undefined)
      return { kind: "clean", detail: `guest OS shut down (${at(guest)}) before ${at(off)}` };
    return { kind: "dirty", detail: `powered off without a guest shutdown (${at(off)})` };
  }
  if (cleanPowerOff === true)
    return { kind: "clean", detail: "runtime.cleanPowerOff is true (no power-off event on record)" };
  return {
    kind: "unknown",
    detail: "no evidence: runtime.cleanPowerOff unset and no power-off event on record",
  };
}

/** Power events of `vm`; empty where the endpoint keeps none (ESXi without EventManager support). */
export async function queryPowerEvents(
  client: VimClient,
  vm: MoRef,
  signal?: AbortSignal,
): Promise<VmEvent[]> {
  const eventManager = client.content.eventManager;
  if (eventManager === undefined) return [];
  try {
    const answers = await client.call(
      "QueryEvents",
      {
        _this: eventManager,
        filter: {
          _type: "EventFilterSpec",
          entity: { _type: "EventFilterSpecByEntity", entity: vm, recursion: "self" },
          eventTypeId: [...POWER_EVENT_TYPES],
        },
      },
      { signal, target: vm.value },
    );
    return parseAnswer(arr(eventSchema), answers.map(toPlain), `QueryEvents for ${vm.value}`);
  } catch (err) {
    if (isSnapvisorError(err, "VSPHERE_NOT_IMPLEMENTED")) return [];
    throw err;
  }
}
