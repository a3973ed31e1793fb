/**
 * SIGINT/SIGTERM for long commands (`backup`, `run`): the first signal aborts the job's
 * AbortSignal, so running VMs stop reading and remove their snapshots before exiting; a second
 * signal means "stop now" and calls `onForce` (the CLI exits 130). The process is injected.
 */
import { ControllerError } from "../controller/errors.js";

export interface SignalSource {
  on(signal: "SIGINT" | "SIGTERM", listener: () => void): unknown;
  off(signal: "SIGINT" | "SIGTERM", listener: () => void): unknown;
}

export interface SignalAbort {
  readonly signal: AbortSignal;
  /** Stops listening (call when the command ends). */
  dispose(): void;
}

export function abortOnSignals(
  source: SignalSource,
  options: { onFirst?: (name: string) => void; onForce: () => void },
): SignalAbort {
  const controller = new AbortController();
  const names = ["SIGINT", "SIGTERM"] as const;
  const listener = (name: "SIGINT" | "SIGTERM") => () => {
    if (controller.signal.aborted) {
      options.onForce();
      return;
    }
    options.onFirst?.(name);
    controller.abort(
      new ControllerError(
        "JOB_ABORTED",
        `Aborted by ${name}: finishing cleanup (snapshots are being removed); send it again to stop at once`,
      ),
    );
  };
  const bound = names.map((n) => [n, listener(n)] as const);
  for (const [n, l] of bound) source.on(n, l);
  return {
    signal: controller.signal,
    dispose: () => {
      for (const [n, l] of bound) source.off(n, l);
    },
  };
}
