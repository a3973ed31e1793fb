/**
 * How an Off VM last went down, from its events in Microsoft-Windows-Hyper-V-Worker-Admin (pure).
 * The newest halt event decides; a boot (18601) newer than any halt means the VM ran and stopped
 * without a halt event (host crash, power loss): dirty. No event at all: unknown (counted as dirty).
 */
import type { ShutdownKind } from "../../src/domain/hypervisor.js";

export const HALT_EVENTS: Readonly<Record<number, { kind: "clean" | "dirty"; text: string }>> = {
  18502: { kind: "dirty", text: "turned off (18502)" },
  18504: { kind: "clean", text: "shut down by the host through the Shutdown integration service (18504)" },
  18508: { kind: "clean", text: "shut down by the guest operating system (18508)" },
  18528: { kind: "dirty", text: "turned off after a critical error (18528)" },
  18539: { kind: "dirty", text: "reset after a triple fault (18539)" },
  18540: { kind: "dirty", text: "reset after a triple fault (18540)" },
  18550: { kind: "dirty", text: "reset after a triple fault (18550)" },
  18560: { kind: "dirty", text: "reset after a triple fault (18560)" },
  18608: { kind: "clean", text: "hibernated by the guest (18608)" },
};
export const BOOT_EVENT = 18601;

export interface VmEvent {
  readonly id: number;
  readonly time: Date;
  readonly node: string;
}

export function classifyShutdown(events: readonly VmEvent[]): { kind: ShutdownKind; detail: string } {
  const relevant = events
    .filter((e) => e.id === BOOT_EVENT || HALT_EVENTS[e.id] !== undefined)
    .sort((a, b) => b.time.getTime() - a.time.getTime());
  const last = relevant[0];
  if (!last) return { kind: "unknown", detail: "no halt event in Microsoft-Windows-Hyper-V-Worker-Admin" };
  const when = `${last.time.toISOString()} on ${last.node}`;
  if (last.id === BOOT_EVENT) {
    return {
      kind: "dirty",
      detail: `last event is a start (18601) at ${when} with no halt event after it (host crash or power loss)`,
    };
  }
  const halt = HALT_EVENTS[last.id];
  return { kind: halt?.kind ?? "unknown", detail: `${halt?.text ?? `event ${last.id}`} at ${when}` };
}
