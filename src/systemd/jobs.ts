import { CancelledError, DeadlineExceededError } from '../core/errors.js';
import { BusUnavailableError } from './errors.js';

/** systemd's job results (org.freedesktop.systemd1(5), "JobRemoved"). */
export type JobResult = 'done' | 'canceled' | 'timeout' | 'failed' | 'dependency' | 'skipped' | string;

export interface FinishedJob {
  readonly jobPath: string;
  readonly result: JobResult;
}

export interface WaitOptions {
  /** Absolute time (ms since the epoch) after which to stop waiting. */
  readonly deadline?: number;
  /** Stop waiting when this aborts: the caller went away, or (reason DeadlineExceededError) its
   *  deadline passed. */
  readonly signal?: AbortSignal;
}

/** How long a JobRemoved that nobody has claimed yet is kept (see `jobRemoved`). */
const UNCLAIMED_TTL_MS = 60_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

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

  private waitFor(jobPath: string, { deadline, signal }: WaitOptions): Promise<FinishedJob> {
    return new Promise<FinishedJob>((resolve, reject) => {
      if (this.failure) {
        // The connection died while the job was being enqueued: its JobRemoved will never come.
        reject(new BusUnavailableError(`lost the bus while enqueuing job ${jobPath}: ${this.failure.message}`));
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      const settle = () => {
        if (timer) clearTimeout(timer);
        const waiting = this.waiters.get(jobPath);
        waiting?.delete(onDone);
        if (waiting?.size === 0) this.waiters.delete(jobPath);
        this.failAll.delete(onFail);
        signal?.removeEventListener('abort', onAbort);
      };
      const onFail = (error: Error) => {
        settle();
        reject(new BusUnavailableError(`lost the bus while waiting for job ${jobPath}: ${error.message}`));
      };
      const onAbort = () => {
        settle();
        const reason: unknown = signal?.reason;
        const why = reason instanceof Error ? reason.message : 'the caller cancelled';
        const ErrorClass = reason instanceof DeadlineExceededError ? DeadlineExceededError : CancelledError;
        reject(new ErrorClass(`${why}; job ${jobPath} goes on in systemd`));
      };
      const onDone = (job: FinishedJob) => {
        settle();
        resolve(job);
      };
      const waiting = this.waiters.get(jobPath) ?? new Set();
      waiting.add(onDone);
      this.waiters.set(jobPath, waiting);
      this.failAll.add(onFail);
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      // setTimeout fires at once for delays past 2^31-1 ms (~24 days); such a deadline is no limit.
      if (deadline !== undefined && deadline - Date.now() < MAX_TIMER_MS) {
        timer = setTimeout(
          () => {
            settle();
            reject(new DeadlineExceededError(`the deadline passed while job ${jobPath} was running; the job goes on`));
          },
          Math.max(0, deadline - Date.now()),
        );
      }
    });
  }

  /** For tests and diagnostics: how many results and waiters are held. */
  get held(): { waiters: number; unclaimed: number } {
    let waiters = 0;
    for (const waiting of this.waiters.values()) waiters += waiting.size;
    return { waiters, unclaimed: this.unclaimed.size };
  }
}
