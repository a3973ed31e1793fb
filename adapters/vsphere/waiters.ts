/**
 * Waiting for vSphere tasks: polls `info` with backoff until success or error, bounded by a timeout
 * measured on the injected clock, and stoppable by AbortSignal (the task is then asked to cancel).
 * A failed task becomes the coded error of its fault (soap/fault.ts).
 */
import type { Clock } from "../../src/domain/ports.js";
import type { VimClient } from "./client.js";
import { throwIfAborted, vsphereError } from "./errors.js";
import { parseAnswer, taskInfoSchema, type TaskInfo } from "./parse.js";
import { readProperties } from "./property-collector.js";
import type { MoRef } from "./soap/envelope.js";
import { faultError, taskFault } from "./soap/fault.js";
import type { PlainObject } from "./soap/decode.js";

export interface WaitOptions {
  readonly clock: Clock;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

/** Delay before the n-th poll (pure): 100 ms, doubling, capped at 2 s. */
export function pollDelay(poll: number): number {
  return Math.min(100 * 2 ** poll, 2000);
}

/** Waits for `task` to finish; answers its info (with `result`) on success. */
export async function waitForTask(
  client: VimClient,
  task: MoRef,
  what: string,
  target: string,
  options: WaitOptions,
): Promise<TaskInfo> {
  const started = options.clock.now().getTime();
  for (let poll = 0; ; poll++) {
    if (options.signal?.aborted === true) {
      await client.call("CancelTask", { _this: task }).catch(() => undefined);
      throwIfAborted(options.signal, `${what} on ${target}`);
    }
    const props = await readProperties(client, task, ["info"], options.signal);
    const info = parseAnswer(taskInfoSchema, props.get("info"), `${what} task info`);
    if (info.state === "success") return info;
    if (info.state === "error") {
      const error = info.error ?? { fault: { _type: "MethodFault" } };
      throw faultError(
        taskFault({ fault: error.fault as PlainObject, localizedMessage: error.localizedMessage }),
        what,
        target,
      );
    }
    const elapsed = options.clock.now().getTime() - started;
    if (elapsed >= options.timeoutMs) {
      await client.call("CancelTask", { _this: task }).catch(() => undefined);
      throw vsphereError(
        "VSPHERE_TASK_TIMEOUT",
        `${what} on ${target} did not finish within ${options.timeoutMs} ms (task ${task.value} is ${info.state})`,
        {
          retryable: true,
          details: { task: task.value, state: info.state },
        },
      );
    }
    await options
      .sleep(pollDelay(poll), options.signal)
      .catch(() => throwIfAborted(options.signal, `${what} on ${target}`));
  }
}

/** Starts a `*_Task` method and waits for it. */
export async function runTask(
  client: VimClient,
  method: string,
  args: Parameters<VimClient["call"]>[1],
  target: string,
  options: WaitOptions,
): Promise<TaskInfo> {
  const [taskEl] = await client.call(method, args, { signal: options.signal, target });
  if (taskEl === undefined)
    throw vsphereError("VSPHERE_BAD_ANSWER", `${method} on ${target} returned no task`);
  return waitForTask(client, { type: "Task", value: taskEl.text }, method, target, options);
}
