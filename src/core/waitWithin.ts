import { CancelledError, DeadlineExceededError, ServerShuttingDownError } from './errors.js';

export interface WaitLimits {
  /** Absolute time (ms since the epoch) after which to stop waiting. */
  readonly deadline?: number;
  /** Stop waiting when this aborts: the caller went away, (reason DeadlineExceededError) its
   *  deadline passed, or (reason ServerShuttingDownError) the server stops waiting for anyone. */
  readonly signal?: AbortSignal;
}

/** setTimeout fires at once for delays past 2^31-1 ms (~24 days); such a deadline is no limit. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Waits, within the caller's limits, for what `start` settles (as a Promise executor does):
 * DeadlineExceededError when the deadline passes or the signal aborts with one, ServerShuttingDownError
 * when it aborts with one, CancelledError when it aborts otherwise. `start` settles synchronously when it can, so an abort right after the
 * awaited event does not win over it. `note` ends each message and says what happens to the work
 * waited for (e.g. "; job 42 goes on in systemd").
 */
export function waitWithin<T>(
  start: (resolve: (value: T) => void, reject: (error: unknown) => void) => void,
  { deadline, signal }: WaitLimits,
  note: string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const settle = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      settle();
      reject(abortError(signal!, note));
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    if (deadline !== undefined && deadline - Date.now() < MAX_TIMER_MS) {
      timer = setTimeout(() => {
        settle();
        reject(new DeadlineExceededError(`the deadline passed${note}`));
      }, Math.max(0, deadline - Date.now()));
    }
    start(
      (value) => {
        settle();
        resolve(value);
      },
      (error) => {
        settle();
        reject(error);
      },
    );
  });
}

/**
 * Why a caller no longer waits, if it does not: its signal aborted (as in waitWithin) or its
 * deadline passed. For a step between two waits, e.g. just before a request goes to systemd.
 */
export function stoppedWaiting({ deadline, signal }: WaitLimits, note: string): Error | undefined {
  if (signal?.aborted) return abortError(signal, note);
  if (deadline !== undefined && Date.now() >= deadline) return new DeadlineExceededError(`the deadline passed${note}`);
  return undefined;
}

function abortError(signal: AbortSignal, note: string): Error {
  const reason: unknown = signal.reason;
  const why = reason instanceof Error ? reason.message : 'the caller cancelled';
  const ErrorClass = [DeadlineExceededError, ServerShuttingDownError].find((known) => reason instanceof known) ?? CancelledError;
  return new ErrorClass(`${why}${note}`);
}
