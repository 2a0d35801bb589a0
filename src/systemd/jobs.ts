import { type WaitLimits, waitWithin } from '../core/waitWithin.js';
import { BusUnavailableError } from './errors.js';

/**
 * systemd's job result (org.freedesktop.systemd1(5), "JobRemoved"): `done`, `canceled`, `timeout`,
 * `failed`, `dependency` or `skipped`, or whatever a later systemd adds, passed on as it is.
 */
export type JobResult = string;

export interface FinishedJob {
  readonly jobPath: string;
  readonly result: JobResult;
}

export type WaitOptions = WaitLimits;

/** How long a JobRemoved that nobody has claimed yet is kept (see `jobRemoved`). */
const UNCLAIMED_TTL_MS = 60_000;

/**
 * Pairs jobs with their `JobRemoved` signal, like go-systemd's jobListener.
 *
 * The race it exists for: systemd replies to StartUnit with the job path and may emit JobRemoved for
 * a fast job right after. dbus-next dispatches both messages from the same socket read, so the
 * signal handler can run before the `await StartUnit(...)` continuation has learned the job path.
 * While any enqueue call is in flight, results nobody waits for yet are therefore kept, and
 * `run` looks there first; nothing is lost and nothing is kept once no call is in flight.
 */
export class JobTracker {
  /** Several callers can wait on one job: systemd merges a request into a compatible queued job
   *  and answers each caller with that job's path (systemd.job(5) "job merging"). */
  private readonly waiters = new Map<string, Set<(job: FinishedJob) => void>>();
  private readonly unclaimed = new Map<string, { job: FinishedJob; at: number }>();
  private enqueuesInFlight = 0;
  private failure: Error | undefined;
  private readonly failAll = new Set<(error: Error) => void>();

  /** Feed every JobRemoved(id, job, unit, result) signal here. */
  jobRemoved(jobPath: string, result: JobResult): void {
    const job = { jobPath, result };
    const waiting = this.waiters.get(jobPath);
    this.waiters.delete(jobPath);
    for (const waiter of waiting ?? []) waiter(job);
    if (this.enqueuesInFlight > 0) {
      const now = Date.now();
      for (const [path, entry] of this.unclaimed) {
        if (now - entry.at > UNCLAIMED_TTL_MS) this.unclaimed.delete(path);
      }
      this.unclaimed.set(jobPath, { job, at: now });
    }
  }

  /** The connection is gone: its JobRemoved signals will never come, so every waiter fails. */
  fail(error: Error): void {
    this.failure = error;
    for (const reject of [...this.failAll]) reject(error);
    this.unclaimed.clear();
  }

  /**
   * Enqueues a job with `enqueue` (which resolves with the job path) and resolves once systemd has
   * removed the job, with its result.
   */
  async run(enqueue: () => Promise<string>, options: WaitOptions = {}): Promise<FinishedJob> {
    if (this.failure) throw new BusUnavailableError(this.failure.message);
    this.enqueuesInFlight++;
    let jobPath: string;
    let early: { job: FinishedJob } | undefined;
    try {
      jobPath = await enqueue();
      // Kept, not taken: another call still in flight may have been merged into the same job.
      early = this.unclaimed.get(jobPath);
    } finally {
      this.enqueuesInFlight--;
      if (this.enqueuesInFlight === 0) this.unclaimed.clear();
    }
    return early ? early.job : this.waitFor(jobPath, options);
  }

  private waitFor(jobPath: string, limits: WaitOptions): Promise<FinishedJob> {
    let onDone: ((job: FinishedJob) => void) | undefined;
    let onFail: ((error: Error) => void) | undefined;
    return waitWithin<FinishedJob>(
      (resolve, reject) => {
        onFail = (error) => reject(new BusUnavailableError(`lost the bus while waiting for job ${jobPath}: ${error.message}`));
        // The connection may have died while the job was being enqueued: its JobRemoved never comes.
        if (this.failure) return onFail(this.failure);
        onDone = resolve;
        const waiting = this.waiters.get(jobPath) ?? new Set();
        waiting.add(onDone);
        this.waiters.set(jobPath, waiting);
        this.failAll.add(onFail);
      },
      limits,
      `; job ${jobPath} goes on in systemd`,
    ).finally(() => {
      const waiting = this.waiters.get(jobPath);
      if (onDone) waiting?.delete(onDone);
      if (waiting?.size === 0) this.waiters.delete(jobPath);
      if (onFail) this.failAll.delete(onFail);
    });
  }

  /** For tests and diagnostics: how many results and waiters are held. */
  get held(): { waiters: number; unclaimed: number } {
    let waiters = 0;
    for (const waiting of this.waiters.values()) waiters += waiting.size;
    return { waiters, unclaimed: this.unclaimed.size };
  }
}
