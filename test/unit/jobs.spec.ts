import { afterEach, describe, expect, it, vi } from 'vitest';
import { CancelledError, DeadlineExceededError } from '../../src/core/errors.js';
import { BusUnavailableError } from '../../src/systemd/errors.js';
import { JobTracker, type FinishedJob } from '../../src/systemd/jobs.js';

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Records whether a promise has settled, without awaiting it. */
function track<T>(promise: Promise<T>): { settled: () => boolean } {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  return { settled: () => settled };
}

/** Waits until the tracker has registered a waiter for the job (i.e. the enqueue call has returned). */
async function waiting(tracker: JobTracker, waiters = 1): Promise<void> {
  await vi.waitFor(() => expect(tracker.held.waiters).toBe(waiters));
}

describe('JobTracker: pairing jobs with their JobRemoved signal', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('does not lose a JobRemoved that arrives before the enqueue call has returned the job path', async () => {
    const tracker = new JobTracker();
    const enqueued = deferred<string>();
    const run = tracker.run(() => enqueued.promise);

    tracker.jobRemoved('/org/freedesktop/systemd1/job/1', 'done');
    enqueued.resolve('/org/freedesktop/systemd1/job/1');

    await expect(run).resolves.toEqual({ jobPath: '/org/freedesktop/systemd1/job/1', result: 'done' });
    expect(tracker.held).toEqual({ waiters: 0, unclaimed: 0 });
  });

  it('resolves with the result of a JobRemoved that arrives after the enqueue call returned', async () => {
    const tracker = new JobTracker();
    const run = tracker.run(async () => '/job/7');
    await waiting(tracker);

    tracker.jobRemoved('/job/7', 'failed');

    await expect(run).resolves.toEqual({ jobPath: '/job/7', result: 'failed' } satisfies FinishedJob);
    expect(tracker.held).toEqual({ waiters: 0, unclaimed: 0 });
  });

  it('resolves each of several concurrent jobs with its own result', async () => {
    const tracker = new JobTracker();
    const first = tracker.run(async () => '/job/1');
    const second = tracker.run(async () => '/job/2');
    await waiting(tracker, 2);

    tracker.jobRemoved('/job/2', 'canceled');
    tracker.jobRemoved('/job/1', 'done');

    await expect(first).resolves.toEqual({ jobPath: '/job/1', result: 'done' });
    await expect(second).resolves.toEqual({ jobPath: '/job/2', result: 'canceled' });
  });

  it('keeps no result for a job nobody waits for when no enqueue call is in flight', () => {
    const tracker = new JobTracker();
    tracker.jobRemoved('/job/99', 'done');
    expect(tracker.held).toEqual({ waiters: 0, unclaimed: 0 });
  });

  it("drops other clients' results it held while an enqueue call was in flight once that call returns", async () => {
    const tracker = new JobTracker();
    const enqueued = deferred<string>();
    const run = tracker.run(() => enqueued.promise);

    tracker.jobRemoved('/job/99', 'done');
    expect(tracker.held.unclaimed).toBe(1);

    enqueued.resolve('/job/1');
    await waiting(tracker);
    expect(tracker.held.unclaimed).toBe(0);

    tracker.jobRemoved('/job/1', 'done');
    await expect(run).resolves.toEqual({ jobPath: '/job/1', result: 'done' });
    expect(tracker.held).toEqual({ waiters: 0, unclaimed: 0 });
  });

  describe('callers merged into one job by systemd', () => {
    it('resolves every caller waiting on the same job path', async () => {
      const tracker = new JobTracker();
      const first = tracker.run(async () => '/job/30');
      const second = tracker.run(async () => '/job/30');
      await waiting(tracker, 2);

      tracker.jobRemoved('/job/30', 'done');

      await expect(first).resolves.toEqual({ jobPath: '/job/30', result: 'done' });
      await expect(second).resolves.toEqual({ jobPath: '/job/30', result: 'done' });
      expect(tracker.held).toEqual({ waiters: 0, unclaimed: 0 });
    });

    it('gives an early JobRemoved to every caller still learning that job path', async () => {
      const tracker = new JobTracker();
      const firstEnqueue = deferred<string>();
      const secondEnqueue = deferred<string>();
      const first = tracker.run(() => firstEnqueue.promise);
      const second = tracker.run(() => secondEnqueue.promise);

      tracker.jobRemoved('/job/31', 'done');
      firstEnqueue.resolve('/job/31');
      await expect(first).resolves.toEqual({ jobPath: '/job/31', result: 'done' });
      secondEnqueue.resolve('/job/31');
      await expect(second).resolves.toEqual({ jobPath: '/job/31', result: 'done' });
      expect(tracker.held).toEqual({ waiters: 0, unclaimed: 0 });
    });

    it('keeps the other callers waiting when one of them gives up', async () => {
      const tracker = new JobTracker();
      const controller = new AbortController();
      const leaving = tracker.run(async () => '/job/32', { signal: controller.signal });
      const staying = tracker.run(async () => '/job/32');
      await waiting(tracker, 2);

      controller.abort();
      await expect(leaving).rejects.toBeInstanceOf(CancelledError);
      expect(tracker.held.waiters).toBe(1);

      tracker.jobRemoved('/job/32', 'done');
      await expect(staying).resolves.toEqual({ jobPath: '/job/32', result: 'done' });
    });
  });

  it('passes on an error from the enqueue call itself', async () => {
    const tracker = new JobTracker();
    await expect(tracker.run(() => Promise.reject(new Error('Unit not found')))).rejects.toThrow('Unit not found');
    expect(tracker.held.waiters).toBe(0);
  });

  describe('deadlines', () => {
    it('rejects with DeadlineExceededError when the deadline passes first, and stops waiting', async () => {
      const tracker = new JobTracker();
      const run = tracker.run(async () => '/job/3', { deadline: Date.now() + 20 });

      await expect(run).rejects.toBeInstanceOf(DeadlineExceededError);
      expect(tracker.held).toEqual({ waiters: 0, unclaimed: 0 });
    });

    it('rejects with DeadlineExceededError when the deadline has already passed', async () => {
      const tracker = new JobTracker();
      const run = tracker.run(async () => '/job/4', { deadline: Date.now() - 1_000 });

      await expect(run).rejects.toThrow(DeadlineExceededError);
      expect(tracker.held.waiters).toBe(0);
    });

    it('says in the error that the job goes on', async () => {
      const tracker = new JobTracker();
      await expect(tracker.run(async () => '/job/5', { deadline: Date.now() })).rejects.toThrow(/\/job\/5.*goes on/);
    });

    it('resolves normally when the job finishes before the deadline', async () => {
      const tracker = new JobTracker();
      const run = tracker.run(async () => '/job/6', { deadline: Date.now() + 60_000 });
      await waiting(tracker);
      tracker.jobRemoved('/job/6', 'done');
      await expect(run).resolves.toEqual({ jobPath: '/job/6', result: 'done' });
    });

    it('does not time out at once for a deadline 40 days away (beyond what setTimeout can hold)', async () => {
      vi.useFakeTimers();
      const tracker = new JobTracker();
      const run = tracker.run(async () => '/job/8', { deadline: Date.now() + 40 * 24 * 3600_000 });
      const state = track(run);

      await vi.advanceTimersByTimeAsync(24 * 3600_000);
      expect(state.settled()).toBe(false);
      expect(tracker.held.waiters).toBe(1);

      tracker.jobRemoved('/job/8', 'done');
      await expect(run).resolves.toEqual({ jobPath: '/job/8', result: 'done' });
    });

    it('does not time out at once for a deadline just past the setTimeout limit (~24.9 days)', async () => {
      vi.useFakeTimers();
      const tracker = new JobTracker();
      const run = tracker.run(async () => '/job/9', { deadline: Date.now() + 2 ** 31 + 1_000 });
      const state = track(run);

      await vi.advanceTimersByTimeAsync(60_000);
      expect(state.settled()).toBe(false);

      tracker.jobRemoved('/job/9', 'done');
      await expect(run).resolves.toEqual({ jobPath: '/job/9', result: 'done' });
    });

    it('does time out under the same fake clock for an ordinary deadline', async () => {
      vi.useFakeTimers();
      const tracker = new JobTracker();
      const run = tracker.run(async () => '/job/10', { deadline: Date.now() + 10_000 });
      const state = track(run);

      await vi.advanceTimersByTimeAsync(9_000);
      expect(state.settled()).toBe(false);
      await vi.advanceTimersByTimeAsync(2_000);
      await expect(run).rejects.toBeInstanceOf(DeadlineExceededError);
    });
  });

  describe('cancellation', () => {
    it('rejects with CancelledError when the caller aborts, and stops waiting', async () => {
      const tracker = new JobTracker();
      const controller = new AbortController();
      const run = tracker.run(async () => '/job/11', { signal: controller.signal });
      await waiting(tracker);

      controller.abort();

      await expect(run).rejects.toBeInstanceOf(CancelledError);
      expect(tracker.held).toEqual({ waiters: 0, unclaimed: 0 });
    });

    it('rejects with CancelledError when the signal was already aborted', async () => {
      const tracker = new JobTracker();
      const run = tracker.run(async () => '/job/12', { signal: AbortSignal.abort() });
      await expect(run).rejects.toBeInstanceOf(CancelledError);
      expect(tracker.held.waiters).toBe(0);
    });

    it('reports DeadlineExceededError when the signal aborts because the deadline passed', async () => {
      const tracker = new JobTracker();
      const controller = new AbortController();
      const run = tracker.run(async () => '/job/14', { signal: controller.signal });
      await waiting(tracker);

      controller.abort(new DeadlineExceededError('the call deadline passed'));

      await expect(run).rejects.toBeInstanceOf(DeadlineExceededError);
      await expect(run).rejects.toThrow(/the call deadline passed.*\/job\/14 goes on/);
      expect(tracker.held.waiters).toBe(0);
    });

    it('says why the caller went away when the abort reason is an error', async () => {
      const tracker = new JobTracker();
      const run = tracker.run(async () => '/job/15', { signal: AbortSignal.abort(new Error('client disconnected')) });
      await expect(run).rejects.toBeInstanceOf(CancelledError);
      await expect(run).rejects.toThrow(/client disconnected/);
    });

    it('ignores an abort after the job has finished', async () => {
      const tracker = new JobTracker();
      const controller = new AbortController();
      const run = tracker.run(async () => '/job/13', { signal: controller.signal });
      await waiting(tracker);
      tracker.jobRemoved('/job/13', 'done');
      controller.abort();
      await expect(run).resolves.toEqual({ jobPath: '/job/13', result: 'done' });
    });
  });

  describe('losing the bus', () => {
    it('rejects every pending waiter with BusUnavailableError carrying the reason', async () => {
      const tracker = new JobTracker();
      const first = tracker.run(async () => '/job/20');
      const second = tracker.run(async () => '/job/21');
      await waiting(tracker, 2);

      tracker.fail(new Error('connection reset'));

      await expect(first).rejects.toBeInstanceOf(BusUnavailableError);
      await expect(second).rejects.toThrow(/connection reset/);
      expect(tracker.held).toEqual({ waiters: 0, unclaimed: 0 });
    });

    it('rejects later runs with BusUnavailableError without enqueuing anything', async () => {
      const tracker = new JobTracker();
      tracker.fail(new Error('bus closed'));
      const enqueue = vi.fn(async () => '/job/22');

      await expect(tracker.run(enqueue)).rejects.toBeInstanceOf(BusUnavailableError);
      await expect(tracker.run(enqueue)).rejects.toThrow(/bus closed/);
      expect(enqueue).not.toHaveBeenCalled();
    });

    it('drops held results when the bus is lost', () => {
      const tracker = new JobTracker();
      void tracker.run(() => new Promise<string>(() => {})).catch(() => {});
      tracker.jobRemoved('/job/23', 'done');
      expect(tracker.held.unclaimed).toBe(1);

      tracker.fail(new Error('gone'));

      expect(tracker.held.unclaimed).toBe(0);
    });
  });

  describe('when the connection dies or the enqueue call fails', () => {
    it('rejects a run whose enqueue call was still in flight when the connection died', async () => {
      const tracker = new JobTracker();
      const enqueued = deferred<string>();
      const run = tracker.run(() => enqueued.promise);
      tracker.fail(new Error('bus gone'));
      enqueued.resolve('/job/late');
      await expect(run).rejects.toBeInstanceOf(BusUnavailableError);
      expect(tracker.held).toEqual({ waiters: 0, unclaimed: 0 });
    });

    it('keeps nothing once a rejected enqueue call was the last one in flight', async () => {
      const tracker = new JobTracker();
      const enqueued = deferred<string>();
      const run = tracker.run(() => enqueued.promise);
      tracker.jobRemoved('/job/someone-elses', 'done');
      expect(tracker.held.unclaimed).toBe(1);
      enqueued.reject(new Error('AccessDenied'));
      await expect(run).rejects.toThrow('AccessDenied');
      expect(tracker.held).toEqual({ waiters: 0, unclaimed: 0 });
    });
  });
});
