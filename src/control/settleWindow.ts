import { formatSettle, judgeSettle, judgeSuperseded } from '../core/actionResult.js';
import type { Action, ActionResult, StreamStatus } from '../core/status.js';
import type { StreamRef } from '../core/streamRef.js';
import { type WaitLimits, waitWithin } from '../core/waitWithin.js';
import { BusUnavailableError } from '../systemd/errors.js';
import { SERVICE_INTERFACE } from '../systemd/manager.js';
import { hasProcesses, readServiceState, type ServiceState } from '../systemd/serviceState.js';
import type { Superseded } from './laterActions.js';
import { toStatus } from './streamView.js';
import type { JobSession, UnitReads } from './systemdPort.js';

/** A stream followed: its status when following began (undefined if the view has none), and how to stop. */
export interface Following {
  readonly current: StreamStatus | undefined;
  stop(): void;
}

/**
 * Where the settle window learns of the stream's changes: StreamView.follow, systemd's signals
 * through the live view. Its own hook, not a WatchStatus watcher: a window is no caller's watch,
 * and is not counted as one (lit_stream_open_watches counts WatchStatus calls only).
 */
export interface StatusChanges {
  follow(ref: StreamRef, listener: (status: StreamStatus) => void): Promise<Following>;
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
   * NRestarts as this start counts from, known before its job was sent (restartBaseline);
   * undefined when not known, the first status seen in the window then standing
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
 * own signals through the view (StatusChanges); the caller's deadline and cancellation end the wait, and so does
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
        changes.follow(ref, check).then(({ current, stop }) => {
          if (done) return stop();
          stopWatching = stop;
          if (current) check(current);
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

/**
 * NRestarts as a start or restart about to be sent will count the worker's restarts from, given
 * what the view knows of the unit. systemd zeroes the counter when a unit starts after a stop that
 * was not its own restart (service_enter_dead() sets flush_n_restarts, service_start() applies it):
 * so 0 when the unit is inactive or failed, or for a Restart, which stops it first — unless systemd
 * is about to restart it itself (SubState `auto-restart`: a stop from there does not flush, and a
 * start waits for that restart). Otherwise (running, or starting or stopping already), systemd's
 * current count, read on the session the job is sent on.
 */
export async function restartBaseline(
  action: 'start' | 'restart',
  unit: string,
  known: ServiceState | undefined,
  systemd: Pick<UnitReads, 'getUnitProperty'>,
): Promise<number> {
  const autoRestart = known?.SubState === 'auto-restart';
  const stopped = !hasProcesses(known?.ActiveState);
  if (!autoRestart && (stopped || action === 'restart')) return 0;
  return Number(await systemd.getUnitProperty(unit, SERVICE_INTERFACE, 'NRestarts'));
}

/** A start or restart job judged SUCCESS, as its settle window begins. */
export interface StartedJob {
  readonly result: ActionResult;
  /** The session the job ran on: its signals tell the window what happens. */
  readonly session: JobSession;
  /** See SettleWatch.restartsBefore. */
  readonly restartsBefore?: number;
}

/**
 * The settle window of a start or restart whose job was judged SUCCESS, and its judgement: the
 * job's result when the worker held (or the window does not apply to its service type), FAILURE
 * saying how it ended when it did not (judgeSettle), the job's result saying what followed when a
 * later action took the stream over (judgeSuperseded). The window runs outside the unit's queue,
 * so a Stop is never held up by it. It also ends, in UNAVAILABLE, when the session the job ran on
 * does: the signals it waits for are then lost (a new session's view starts afresh), and a status
 * read after that would say nothing of what happened in between.
 */
export async function settleWindow(
  systemd: Pick<UnitReads, 'getUnitProperty' | 'getUnitProperties'>,
  changes: StatusChanges,
  window: { readonly action: 'start' | 'restart'; readonly ref: StreamRef; readonly unit: string; readonly ms: number; readonly interrupted: AbortController },
  job: StartedJob,
  limits: WaitLimits,
): Promise<ActionResult> {
  const { action, ref, unit, ms, interrupted } = window;
  const lost = (error: Error) => {
    const message = `the session with systemd ended within the ${formatSettle(ms)} settle window (${error.message}): systemd had started the stream; whether its worker holds is not known`;
    if (!interrupted.signal.aborted) interrupted.abort(new BusUnavailableError(message));
  };
  const stopListening = job.session.onEnd(lost);
  try {
    const type = String(await systemd.getUnitProperty(unit, SERVICE_INTERFACE, 'Type'));
    if (!settleApplies(type)) return job.result;
    const { restartsBefore } = job;
    const outcome = await awaitSettle(changes, { ref, ms, restartsBefore, interrupted: interrupted.signal }, limits);
    if (outcome.kind === 'ended') {
      // One round trip to systemd: its answer comes after every signal it sent before, so it
      // tells where the unit came to rest (e.g. `failed` was on the way to `auto-restart`).
      const after = readServiceState(await systemd.getUnitProperties(unit));
      return judgeSettle(action, job.result, outcome.status, ms, toStatus(ref, unit, after), restartsBefore);
    }
    if (outcome.kind === 'superseded') return judgeSuperseded(action, job.result, outcome.by, outcome.afterMs, ms);
    return await confirmHeld(systemd, window, job, Date.now());
  } finally {
    stopListening();
  }
}

/**
 * The window's timer fired with no signal of the worker ending; but such a signal may still be on
 * its way (systemd, dbus-daemon and this event loop all busy), and the answer must be what systemd
 * did. One round trip settles it: systemd answers after every signal it sent before. A worker that
 * no longer holds fails the start only if systemd's StateChangeTimestamp puts its end inside the
 * window (`windowEnd`, the same realtime clock); one that ended after the window did hold it.
 */
async function confirmHeld(
  systemd: Pick<UnitReads, 'getUnitProperties'>,
  window: { readonly action: 'start' | 'restart'; readonly ref: StreamRef; readonly unit: string; readonly ms: number },
  job: StartedJob,
  windowEnd: number,
): Promise<ActionResult> {
  const { action, ref, unit, ms } = window;
  const state = readServiceState(await systemd.getUnitProperties(unit));
  const status = toStatus(ref, unit, state);
  const restartsBefore = job.restartsBefore ?? status.restartCount;
  const changedAt = state.StateChangeTimestamp?.getTime() ?? Number.POSITIVE_INFINITY;
  if (holds(status, restartsBefore) || changedAt > windowEnd) return job.result;
  return judgeSettle(action, job.result, status, ms, status, restartsBefore);
}
