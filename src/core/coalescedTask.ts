/**
 * A task that runs at most once at a time: asking while it runs makes it run once more right after,
 * however often one asks. Each asker gets the promise of the run that covers their request — the
 * run in progress is not enough, as it may have started before what prompted the request — so an
 * asker waits for at most two runs even while requests keep coming. For resynchronisations
 * triggered by bursts of signals or file events.
 */
export class CoalescedTask {
  private running: Promise<void> | undefined;
  private queued: { promise: Promise<void>; resolve: () => void; reject: (error: unknown) => void } | undefined;

  constructor(
    private readonly task: () => Promise<void>,
    /** Whether a requested rerun should still happen (e.g. not after detaching). */
    private readonly stillWanted: () => boolean = () => true,
  ) {}

  request(): Promise<void> {
    if (!this.running) return this.run();
    if (!this.queued) {
      let resolve!: () => void;
      let reject!: (error: unknown) => void;
      const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
      // Askers may ignore the outcome (fire and forget); a failure is theirs to see, not unhandled.
      promise.catch(() => undefined);
      this.queued = { promise, resolve, reject };
    }
    return this.queued.promise;
  }

  /** Resolves once no run is in progress or requested (a run's failure included). */
  async settled(): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
  }

  private run(): Promise<void> {
    const done = this.task();
    this.running = done;
    const next = () => {
      this.running = undefined;
      const queued = this.queued;
      this.queued = undefined;
      if (!queued) return;
      if (!this.stillWanted()) return queued.resolve();
      this.run().then(queued.resolve, queued.reject);
    };
    done.then(next, next);
    return done;
  }
}
