import { CancelledError, DeadlineExceededError } from '../core/errors.js';
import type { WaitOptions } from '../systemd/jobs.js';

const MAX_TIMER_MS = 2 ** 31 - 1;

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
      await waitTurn(previous, unit, wait);
      return await work();
    } finally {
      release();
      if (this.tails.get(unit) === tail) this.tails.delete(unit);
    }
  }

  /** Units with a caller running or waiting (for tests and diagnostics). */
  get busy(): number {
    return this.tails.size;
  }
}

function waitTurn(previous: Promise<void>, unit: string, { deadline, signal }: WaitOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      done();
      const reason: unknown = signal?.reason;
      reject(reason instanceof DeadlineExceededError ? reason : new CancelledError(`cancelled while waiting for another action on ${unit}`));
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    if (deadline !== undefined && deadline - Date.now() < MAX_TIMER_MS) {
      timer = setTimeout(() => {
        done();
        reject(new DeadlineExceededError(`the deadline passed while waiting for another action on ${unit} to finish`));
      }, Math.max(0, deadline - Date.now()));
    }
    previous.then(() => {
      done();
      resolve();
    });
  });
}
