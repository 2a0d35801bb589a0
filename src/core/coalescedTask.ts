/**
 * A task that runs at most once at a time: asking while it runs makes it run once more right after,
 * however often one asks, and every asker gets the promise of the run that covers their request.
 * For resynchronisations triggered by bursts of signals or file events.
 */
export class CoalescedTask {
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly task: () => Promise<void>,
    /** Whether a requested rerun should still happen (e.g. not after detaching). */
    private readonly stillWanted: () => boolean = () => true,
  ) {}

  request(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.task();
        } while (this.again && this.stillWanted());
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /** Resolves once no run is in progress or requested (a run's failure included). */
  async settled(): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
  }
}
