/**
 * One error base class for the whole product. Every module has its own union of stable string codes
 * (`RepositoryErrorCode`, `VsphereErrorCode`, ...) and throws `SnapvisorError` with one of them;
 * callers match on `code`, never on messages. The README keeps the table of codes.
 */
export class SnapvisorError<C extends string = string> extends Error {
  override readonly name = "SnapvisorError";
  readonly code: C;
  /** True when repeating the same operation later may succeed (network blips, busy locks). */
  readonly retryable: boolean;
  /** Structured facts about the failure (paths, ids, values seen) for logs and `--json` output. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: C,
    message: string,
    options: { cause?: unknown; retryable?: boolean; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = Object.freeze({ ...options.details });
  }
}

/** True when `err` is a SnapvisorError, optionally with one of the given codes. */
export function isSnapvisorError<C extends string>(
  err: unknown,
  ...codes: readonly C[]
): err is SnapvisorError<C> {
  return err instanceof SnapvisorError && (codes.length === 0 || codes.includes(err.code as C));
}

/** The message of any throwable, for wrapping unknown errors at an adapter's edge. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
