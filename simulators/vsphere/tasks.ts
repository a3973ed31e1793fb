/**
 * Tasks: every `*_Task` method returns a Task at once and does its work asynchronously, as vCenter
 * does (vcsim finishes synchronously). info.state goes queued -> running -> success | error; a
 * `slow-task` rule keeps a task running for a delay or until released. Work on one VM is serialized:
 * a second task while one runs fails with TaskInProgress.
 */
import type { Entity, ManagedObject, Prop } from "./inventory.js";
import type { MoRef } from "./vim-value.js";
import { VimFault, data, type VimValue } from "./vim-value.js";

export type TaskState = "queued" | "running" | "success" | "error";

export class Task implements ManagedObject {
  state: TaskState = "queued";
  startTime: Date | undefined;
  completeTime: Date | undefined;
  result: VimValue | undefined;
  error: VimFault | undefined;
  cancelled = false;
  /** Snapshot creation can be cancelled while it waits or runs; most tasks cannot. */
  cancelable = false;
  #release: (() => void) | undefined;

  constructor(
    readonly ref: MoRef,
    readonly descriptionId: string,
    readonly entity: Entity,
    readonly userName: string,
    readonly queueTime: Date,
    readonly chainId: number,
  ) {}

  info() {
    return data("TaskInfo", {
      key: this.ref.value,
      task: this.ref,
      descriptionId: this.descriptionId,
      entity: this.entity.ref,
      entityName: this.entity.name,
      state: this.state,
      cancelled: this.cancelled,
      cancelable: this.cancelable && (this.state === "queued" || this.state === "running"),
      error: this.error?.localized(),
      result: this.result,
      progress: this.state === "running" ? 0 : undefined,
      reason: data("TaskReasonUser", { userName: this.userName }),
      queueTime: this.queueTime,
      startTime: this.startTime,
      completeTime: this.completeTime,
      eventChainId: this.chainId,
    });
  }

  properties(): Record<string, Prop> {
    return { info: ["TaskInfo", this.info()] };
  }

  /**
   * CancelTask: a finished task faults InvalidState, one that cannot be cancelled NotSupported; a
   * cancelled task ends in error with RequestCanceled and its work is not done.
   */
  cancel(now: Date): void {
    if (this.state === "success" || this.state === "error") {
      throw new VimFault("InvalidState", "The operation is not allowed in the current state.");
    }
    if (!this.cancelable) throw new VimFault("NotSupported", "The operation is not supported on the object.");
    this.cancelled = true;
    this.state = "error";
    this.error = new VimFault("RequestCanceled", "The task was canceled by a user.");
    this.completeTime = now;
    this.#release = undefined;
    this.onCancel?.();
  }

  /** Frees the entity the task held (set by the TaskManager). */
  onCancel: (() => void) | undefined;

  /** Lets a held task finish (control API). */
  release(): boolean {
    const r = this.#release;
    this.#release = undefined;
    r?.();
    return r !== undefined;
  }

  hold(): Promise<void> {
    return new Promise((resolve) => (this.#release = resolve));
  }
}

export interface TaskTiming {
  readonly delayMs?: number | undefined;
  readonly hold?: boolean | undefined;
}

export interface TaskHost {
  now(): Date;
  newRef(type: string, prefix: string): MoRef;
  register(obj: ManagedObject): void;
  changed(): void;
}

export class TaskManager {
  readonly recent: Task[] = [];
  #chain = 1;
  readonly #busy = new Map<string, Task>();

  constructor(private readonly host: TaskHost) {}

  /**
   * Starts a task on `entity`. `work` runs when the task runs; its return value is info.result, a thrown
   * VimFault becomes info.error. `exclusive` tasks on the same entity do not overlap.
   */
  start(
    entity: Entity,
    descriptionId: string,
    userName: string,
    work: () => VimValue | undefined,
    timing: TaskTiming = {},
    exclusive = true,
    cancelable = false,
  ): Task {
    const task = new Task(
      this.host.newRef("Task", "task"),
      descriptionId,
      entity,
      userName,
      this.host.now(),
      this.#chain++,
    );
    task.cancelable = cancelable;
    task.onCancel = () => {
      if (this.#busy.get(entity.ref.key) === task) this.#busy.delete(entity.ref.key);
      this.host.changed();
    };
    this.host.register(task);
    this.recent.push(task);
    if (this.recent.length > 200) this.recent.shift();
    const finish = (fn: () => void) => {
      try {
        fn();
        task.state = "success";
      } catch (err) {
        task.state = "error";
        task.error =
          err instanceof VimFault ? err : new VimFault("SystemError", String(err), { reason: String(err) });
      }
      task.completeTime = this.host.now();
      if (exclusive && this.#busy.get(entity.ref.key) === task) this.#busy.delete(entity.ref.key);
      this.host.changed();
    };
    setImmediate(() => {
      if (task.cancelled) return;
      task.state = "running";
      task.startTime = this.host.now();
      this.host.changed();
      const other = exclusive ? this.#busy.get(entity.ref.key) : undefined;
      if (other) {
        finish(() => {
          throw new VimFault("TaskInProgress", "Another task is already in progress.", { task: other.ref });
        });
        return;
      }
      if (exclusive) this.#busy.set(entity.ref.key, task);
      const run = () => {
        if (task.cancelled) return;
        finish(() => (task.result = work()));
      };
      if (timing.hold) void task.hold().then(run);
      else if (timing.delayMs) setTimeout(run, timing.delayMs).unref();
      else run();
    });
    return task;
  }

  releaseAll(): number {
    let n = 0;
    for (const t of this.recent) if (t.release()) n++;
    return n;
  }
}
