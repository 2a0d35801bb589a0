import { waitWithin } from '../core/waitWithin.js';
import type { WaitOptions } from '../systemd/jobs.js';

/**
 * One Start/Stop/Restart at a time per unit: later callers wait their turn, in arrival order,
 * within their own deadline (DEADLINE_EXCEEDED if it passes while waiting; CANCELLED if they go
 * away). Without it, systemd's job merging and `replace` mode would make concurrent callers'
 * answers depend on timing; with it each caller's answer is about its own job.
 */
export class UnitQueue {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(unit: string, wait: WaitOptions, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(unit) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(unit, tail);
    try {
      await waitWithin<void>((resolve) => void previous.then(resolve), wait, ` while waiting for another action on ${unit} to finish`);
      return await work();
    } finally {
      release();
      // Forget the unit only once every caller queued so far is done: a caller that gives up while
      // waiting must not drop the callers still running or waiting ahead of it.
      void tail.then(() => {
        if (this.tails.get(unit) === tail) this.tails.delete(unit);
      });
    }
  }

  /** Units with a caller running or waiting (for tests and diagnostics). */
  get busy(): number {
    return this.tails.size;
  }
}
