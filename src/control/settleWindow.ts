import type { StreamListener, StreamWatch } from '../core/backend.js';
import type { Action, StreamStatus } from '../core/status.js';
import type { StreamRef } from '../core/streamRef.js';
import { type WaitLimits, waitWithin } from '../core/waitWithin.js';

/** Where the settle window learns of the stream's changes (StreamView: systemd's signals). */
export interface StatusChanges {
  watch(team: string, name: string | undefined, listener: StreamListener): Promise<StreamWatch>;
}

/**
 * Service types whose start job already waits for the worker to be ready, so the settle window
 * does not apply (systemd.service(5), "Type="): `oneshot` finishes its start job only once the
 * process has exited successfully (the unit is then inactive, which is its success), and `notify`
 * only once the worker itself has sent READY=1, which says more than any timer could.
 */
const READY_WHEN_JOB_DONE: ReadonlySet<string> = new Set(['oneshot', 'notify', 'notify-reload']);

export function settleApplies(serviceType: string): boolean {
  return !READY_WHEN_JOB_DONE.has(serviceType);
}

/** What the window saw (SettleWatch.interrupted aborts with one of these or with an Error). */
export interface Superseded {
  /** A later Stop or Restart of the stream, sent to systemd while the window ran. */
  readonly supersededBy: Action;
}

/** How a settle window ended. */
export type SettleOutcome =
  | { readonly kind: 'held' }
  /** The first status showing the worker did not hold. */
  | { readonly kind: 'ended'; readonly status: StreamStatus }
  /** Another action took the stream over `afterMs` into the window: whether it would have held is moot. */
  | { readonly kind: 'superseded'; readonly by: Action; readonly afterMs: number };

export interface SettleWatch {
  readonly ref: StreamRef;
  readonly ms: number;
  /**
   * NRestarts as this start counts from, known before its job was sent (StreamController's
   * restartBaseline); undefined when not known, the first status seen in the window then standing
   * in for it. Taken in the window instead, a restart while the job ran would be missed: systemd
   * holds a start job until its own pending restart is done, so the job can be `done` on a run that
   * systemd restarted.
   */
  readonly restartsBefore?: number;
  /**
   * Aborts when the window's answer no longer depends on waiting: with a Superseded when a later
   * action on the stream was sent, or with an Error that the window then throws.
   */
  readonly interrupted: AbortSignal;
}

/**
 * Waits `ms` after a start job finished `done` for the stream to keep running. `held` when it did;
 * at once, `ended` with the first status showing it did not: no longer active (exited, failed,
 * stopped) or restarted by systemd (SubState `auto-restart`, or NRestarts grew). Watches systemd's
 * own signals through the view; the caller's deadline and cancellation end the wait, and so does
 * `interrupted`.
 */
export async function awaitSettle(changes: StatusChanges, watch: SettleWatch, limits: WaitLimits): Promise<SettleOutcome> {
  const { ref, ms, interrupted } = watch;
  const began = performance.now();
  let stopWatching: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let onInterrupt: (() => void) | undefined;
  let done = false;
  try {
    return await waitWithin<SettleOutcome>(
      (resolve, reject) => {
        let restartsBefore = watch.restartsBefore;
        const check = (status: StreamStatus) => {
          restartsBefore ??= status.restartCount;
          if (!holds(status, restartsBefore)) resolve({ kind: 'ended', status });
        };
        onInterrupt = () => {
          const reason: unknown = interrupted.reason;
          if (reason instanceof Error) reject(reason);
          else resolve({ kind: 'superseded', by: (reason as Superseded).supersededBy, afterMs: Math.round(performance.now() - began) });
        };
        if (interrupted.aborted) return onInterrupt();
        interrupted.addEventListener('abort', onInterrupt, { once: true });
        timer = setTimeout(() => resolve({ kind: 'held' }), ms);
        changes.watch(ref.team, ref.name, ({ status }) => check(status)).then(({ initial, stop }) => {
          if (done) return stop();
          stopWatching = stop;
          for (const status of initial) check(status);
        }, reject);
      },
      limits,
      ` while waiting ${ms} ms for the worker to hold; systemd had started it`,
    );
  } finally {
    done = true;
    clearTimeout(timer);
    if (onInterrupt) interrupted.removeEventListener('abort', onInterrupt);
    stopWatching?.();
  }
}

function holds(status: StreamStatus, restartsBefore: number): boolean {
  const running = status.activeState === 'active' || status.activeState === 'reloading';
  return running && status.subState !== 'auto-restart' && status.restartCount <= restartsBefore;
}
