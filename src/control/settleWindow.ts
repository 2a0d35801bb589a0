import type { StreamStatus } from '../core/status.js';
import type { StreamRef } from '../core/streamRef.js';
import { type WaitLimits, waitWithin } from '../core/waitWithin.js';
import type { StreamListener } from './streamView.js';

/** Where the settle window learns of the stream's changes (StreamView: systemd's signals). */
export interface StatusChanges {
  watch(team: string, name: string | undefined, listener: StreamListener): Promise<{ initial: StreamStatus[]; stop: () => void }>;
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

/**
 * Waits `ms` after a start job finished `done` for the stream to keep running. Resolves undefined
 * when it held, or, at once, with the first status showing it did not: no longer active (exited,
 * failed, stopped) or restarted by systemd (SubState `auto-restart`, or NRestarts grew). Watches
 * systemd's own signals through the view; the caller's deadline and cancellation end the wait.
 */
export async function awaitSettle(changes: StatusChanges, ref: StreamRef, ms: number, limits: WaitLimits): Promise<StreamStatus | undefined> {
  let stopWatching: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let done = false;
  try {
    return await waitWithin<StreamStatus | undefined>(
      (resolve, reject) => {
        let restartsBefore: number | undefined;
        const check = (status: StreamStatus) => {
          restartsBefore ??= status.restartCount;
          if (!holds(status, restartsBefore)) resolve(status);
        };
        timer = setTimeout(() => resolve(undefined), ms);
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
    stopWatching?.();
  }
}

function holds(status: StreamStatus, restartsBefore: number): boolean {
  const running = status.activeState === 'active' || status.activeState === 'reloading';
  return running && status.subState !== 'auto-restart' && status.restartCount <= restartsBefore;
}
