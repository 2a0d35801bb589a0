import { ServerShuttingDownError } from '../core/errors.js';
import type { Action } from '../core/status.js';
import { stoppedWaiting, type WaitLimits, waitWithin } from '../core/waitWithin.js';
import type { FinishedJob } from '../systemd/jobs.js';

/** Runs a job in systemd and resolves once systemd has removed it (SystemdSession's JobTracker). */
export interface JobRunner {
  run(enqueue: () => Promise<string>): Promise<FinishedJob>;
}

/** What a caller let through the queue does with its turn. */
export interface JobSlot {
  /**
   * Sends the caller's request (`enqueue` resolves with the job's path once systemd has queued
   * it) and waits, within the caller's limits, for systemd to finish the job. The unit stays held
   * until systemd has removed the job, even if the caller stops waiting for it first.
   */
  job(enqueue: () => Promise<string>, jobs: JobRunner): Promise<FinishedJob>;
}

/**
 * Where a caller is: `queued` (waiting for its turn), `let through` (its turn has come; its
 * request is not in systemd yet), `sent` (systemd has answered the request: the job is queued
 * there, or was refused).
 */
type Phase = 'queued' | 'let through' | 'sent';

interface Entry {
  readonly action: Action;
  phase: Phase;
  letThrough(): void;
  refuse(error: Error): void;
}

/**
 * One systemd job at a time per unit, so that each caller's answer is about a job of its own
 * rather than one systemd merged it into or replaced it with (a unit has at most one job:
 * systemd.job(5); a new request is merged into it or, in `replace` mode, replaces it).
 *
 * - Start and Restart wait their turn in arrival order, within their own deadline
 *   (DEADLINE_EXCEEDED if it passes in the queue, CANCELLED if the caller goes away; either way
 *   the callers behind keep their place). Their turn comes when every action ahead of them has
 *   finished in systemd: a caller that stopped waiting for its job holds the unit until systemd
 *   has removed that job.
 * - Stop waits for no Start or Restart, as `systemctl stop` does not: it is sent as soon as the
 *   one running has reached systemd, where the stop job replaces that start or restart job (which
 *   ends `canceled`, and its caller is told so). The Starts and Restarts still queued when the Stop
 *   comes are canceled too, never sent (CanceledByStopError): as systemd would have replaced their
 *   jobs, so that nothing queued before a Stop starts the stream again after it. Stops wait for
 *   earlier Stops; Starts and Restarts that come after a Stop queue behind it.
 * - At shutdown (`close`), no more requests are sent to systemd: callers still queued, and any
 *   that come, are refused. `abandon` then tells the callers still waiting for a job that it is
 *   still running in systemd. Both are UNAVAILABLE (ServerShuttingDownError).
 */
export class UnitQueue {
  /** Each unit's callers, in the order they are served. */
  private readonly lines = new Map<string, Entry[]>();
  private closed = false;
  /** Why callers no longer wait for their jobs (`abandon`), once they don't. */
  private abandonedWith: Error | undefined;
  /**
   * How to stop each caller still waiting for its job. A Set rather than one long-lived signal
   * combined with each caller's (AbortSignal.any): on Node 20 every combined signal stays
   * registered with the long-lived one until that aborts (nodejs/node#55351), some 2 KB kept per
   * action for the server's whole life; nor a listener per caller on one long-lived signal, which
   * Node warns about past 10 as a likely leak.
   */
  private readonly waitingForJobs = new Set<(reason: Error) => void>();

  async run<T>(unit: string, action: Action, limits: WaitLimits, work: (slot: JobSlot) => Promise<T>): Promise<T> {
    if (this.closed) throw notSent(action);
    const line = this.lines.get(unit) ?? [];
    this.lines.set(unit, line);
    const entry: Entry = { action, phase: 'queued', letThrough: () => undefined, refuse: () => undefined };
    if (action === 'stop') {
      // What a Stop would replace in systemd it also replaces here: the Starts and Restarts
      // still waiting for their turn are never sent (an operator's Stop is not undone by them).
      for (const other of line) {
        if (other.action !== 'stop' && other.phase === 'queued') other.refuse(new CanceledByStopError(other.action));
      }
    }
    line.push(entry);

    let held: Promise<unknown> = Promise.resolve();
    try {
      await waitWithin<void>(
        (resolve, reject) => {
          entry.letThrough = resolve;
          entry.refuse = reject;
          this.advance(line);
        },
        limits,
        ` while waiting for another action on ${unit} to finish`,
      );
      return await work({
        job: async (enqueue, jobs) => {
          if (this.closed) throw notSent(action);
          // Between its turn and this call the caller may have gone (the controller may ask
          // systemd something first): then nothing is sent, as for a caller that left the queue.
          const gone = stoppedWaiting(limits, `; the ${action} was not sent to systemd`);
          if (gone) throw gone;
          const { sent, ended } = this.send(line, entry, enqueue, jobs);
          held = ended.catch(() => undefined);
          return this.whileWaiting(limits.signal, (signal) => waitForJob(action, sent, ended, { deadline: limits.deadline, signal }));
        },
      });
    } finally {
      void held.then(() => {
        line.splice(line.indexOf(entry), 1);
        if (line.length === 0 && this.lines.get(unit) === line) this.lines.delete(unit);
        this.advance(line);
      });
    }
  }

  /** Callers waiting for their turn on the unit, not yet sent to systemd (for tests and diagnostics). */
  queued(unit: string): number {
    return (this.lines.get(unit) ?? []).filter((entry) => entry.phase === 'queued').length;
  }

  /** Shutdown begins: nothing more is sent to systemd; the callers still queued are told so. */
  close(): void {
    this.closed = true;
    for (const line of this.lines.values()) {
      for (const entry of line) if (entry.phase === 'queued') entry.refuse(notSent(entry.action));
    }
  }

  /** The grace period is over: callers still waiting for a job are told it is still running in systemd. */
  abandon(): void {
    this.abandonedWith ??= new ServerShuttingDownError('lit-streamd is shutting down');
    for (const stop of this.waitingForJobs) stop(this.abandonedWith);
  }

  /**
   * Runs a caller's wait for its job with a signal of its own that aborts when the caller's does
   * or when the queue is abandoned; nothing of it is left on either once the wait is over.
   */
  private async whileWaiting<T>(callerSignal: AbortSignal | undefined, wait: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const waiting = new AbortController();
    const stop = (reason: unknown) => waiting.abort(reason);
    const callerGone = () => stop(callerSignal?.reason);
    if (this.abandonedWith) stop(this.abandonedWith);
    else if (callerSignal?.aborted) callerGone();
    this.waitingForJobs.add(stop);
    callerSignal?.addEventListener('abort', callerGone, { once: true });
    try {
      return await wait(waiting.signal);
    } finally {
      this.waitingForJobs.delete(stop);
      callerSignal?.removeEventListener('abort', callerGone);
    }
  }

  /** Lets through every queued caller whose turn has come (see the class comment for when). */
  private advance(line: Entry[]): void {
    if (this.closed) return;
    line.forEach((entry, index) => {
      if (entry.phase !== 'queued') return;
      const ahead = line.slice(0, index);
      const turn =
        entry.action === 'stop' ? ahead.every((other) => other.action !== 'stop' && other.phase === 'sent') : ahead.length === 0;
      if (!turn) return;
      entry.phase = 'let through';
      entry.letThrough();
    });
  }

  /** Sends the request; `sent` settles once systemd has answered it, `ended` once the job is gone. */
  private send(line: Entry[], entry: Entry, enqueue: () => Promise<string>, jobs: JobRunner) {
    let answered!: (jobPath: string) => void;
    let refused!: (error: unknown) => void;
    const sent = new Promise<string>((resolve, reject) => {
      answered = resolve;
      refused = reject;
    });
    const ended = jobs.run(async () => {
      try {
        const jobPath = await enqueue();
        answered(jobPath);
        return jobPath;
      } catch (error) {
        refused(error);
        throw error;
      }
    });
    ended.catch(refused); // refused before sending (the bus is gone)
    void sent
      .catch(() => undefined)
      .then(() => {
        entry.phase = 'sent';
        this.advance(line);
      });
    return { sent, ended };
  }
}

/** The caller's wait for its job, in two steps so that a message says how far the request got. */
async function waitForJob(action: Action, sent: Promise<string>, ended: Promise<FinishedJob>, limits: WaitLimits): Promise<FinishedJob> {
  const jobPath = await waitWithin<string>(
    (resolve, reject) => void sent.then(resolve, reject),
    limits,
    `; the ${action} request was sent to systemd, which may still carry it out`,
  );
  return waitWithin<FinishedJob>(
    (resolve, reject) => void ended.then(resolve, reject),
    limits,
    `; the ${action} job ${jobPath} is still running in systemd`,
  );
}

/**
 * A Start or Restart still waiting for its turn when a Stop of the unit came: it was never sent to
 * systemd. Its caller is answered FAILURE, job result `canceled`, as if systemd had replaced it.
 */
export class CanceledByStopError extends Error {
  override readonly name = 'CanceledByStopError';
  constructor(readonly action: Action) {
    super(`a Stop came while the ${action} waited for its turn; the ${action} was not sent to systemd`);
  }
}

function notSent(action: Action): ServerShuttingDownError {
  return new ServerShuttingDownError(`lit-streamd is shutting down: the ${action} was not sent to systemd`);
}
