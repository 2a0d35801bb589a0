import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { untilAborted } from '../../src/core/abortable.js';
import { CancelledError, DeadlineExceededError, ServerShuttingDownError } from '../../src/core/errors.js';
import { stoppedWaiting, waitWithin } from '../../src/core/waitWithin.js';

const NOTE = '; job 42 goes on in systemd';

/** Settles a promise's outcome into something a spec can look at without awaiting it. */
function outcomeOf<T>(promise: Promise<T>): { state: 'pending' | 'resolved' | 'rejected'; value?: T; error?: unknown } {
  const outcome: { state: 'pending' | 'resolved' | 'rejected'; value?: T; error?: unknown } = { state: 'pending' };
  promise.then(
    (value) => Object.assign(outcome, { state: 'resolved', value }),
    (error: unknown) => Object.assign(outcome, { state: 'rejected', error }),
  );
  return outcome;
}

afterEach(() => {
  vi.useRealTimers();
});

describe("waiting within a caller's limits (waitWithin)", () => {
  it('answers what the awaited work settles with, value or error', async () => {
    await expect(waitWithin<number>((resolve) => resolve(7), {}, NOTE)).resolves.toBe(7);
    const failure = new Error('the job failed');
    await expect(waitWithin((_resolve, reject) => reject(failure), {}, NOTE)).rejects.toBe(failure);
  });

  it('fails with DEADLINE_EXCEEDED when the deadline passes first, and not a millisecond sooner', async () => {
    vi.useFakeTimers();
    const waiting = outcomeOf(waitWithin(() => {}, { deadline: Date.now() + 1_000 }, NOTE));
    await vi.advanceTimersByTimeAsync(999);
    expect(waiting.state).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(waiting.state).toBe('rejected');
    expect(waiting.error).toBeInstanceOf(DeadlineExceededError);
    expect((waiting.error as Error).message).toBe(`the deadline passed${NOTE}`);
  });

  it('takes a deadline further away than a timer can wait (2^31 ms) as no limit', async () => {
    // Node fires such a timer at once; a 1 ms timer set after it fires after it.
    const waiting = outcomeOf(waitWithin(() => {}, { deadline: Date.now() + 2 ** 31 + 10_000 }, NOTE));
    await new Promise((resolve) => setTimeout(resolve, 1));
    expect(waiting.state).toBe('pending');
  });

  it('leaves no timer and no abort listener behind once the work settled', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    let finish!: (value: string) => void;
    const waiting = waitWithin<string>((resolve) => (finish = resolve), { deadline: Date.now() + 60_000, signal: controller.signal }, NOTE);
    expect(vi.getTimerCount()).toBe(1);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    finish('done');
    await expect(waiting).resolves.toBe('done');
    expect(vi.getTimerCount()).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('leaves no timer and no abort listener behind once the work failed', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    let fail!: (error: unknown) => void;
    const waiting = waitWithin((_resolve, reject) => (fail = reject), { deadline: Date.now() + 60_000, signal: controller.signal }, NOTE);
    fail(new Error('no such unit'));
    await expect(waiting).rejects.toThrow('no such unit');
    expect(vi.getTimerCount()).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('leaves no timer behind once the caller went away', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const waiting = waitWithin(() => {}, { deadline: Date.now() + 60_000, signal: controller.signal }, NOTE);
    controller.abort(new CancelledError('the caller cancelled'));
    await expect(waiting).rejects.toBeInstanceOf(CancelledError);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('fails at once, without starting the work, when the caller has already gone', async () => {
    const controller = new AbortController();
    controller.abort(new DeadlineExceededError('the deadline passed'));
    const start = vi.fn();
    await expect(waitWithin(start, { signal: controller.signal }, NOTE)).rejects.toThrow(DeadlineExceededError);
    expect(start).not.toHaveBeenCalled();
  });

  it.each<[string, () => unknown, new (message: string) => Error, string]>([
    ['its deadline passed', () => new DeadlineExceededError('the deadline passed'), DeadlineExceededError, `the deadline passed${NOTE}`],
    ['the server shuts down', () => new ServerShuttingDownError('the server is shutting down'), ServerShuttingDownError, `the server is shutting down${NOTE}`],
    ['it cancelled', () => new CancelledError('the call was cancelled'), CancelledError, `the call was cancelled${NOTE}`],
    ['something else went wrong', () => new Error('the stream closed'), CancelledError, `the stream closed${NOTE}`],
    ['it gave no error', () => 'gone', CancelledError, `the caller cancelled${NOTE}`],
  ])('says why, in its own code, when the caller stops waiting because %s', async (_why, reason, ErrorClass, message) => {
    const controller = new AbortController();
    const waiting = waitWithin(() => {}, { signal: controller.signal }, NOTE);
    controller.abort(reason());
    const error = await waiting.catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(ErrorClass);
    expect((error as Error).message).toBe(message);
    expect(stoppedWaiting({ signal: controller.signal }, NOTE)).toEqual(error);
  });
});

describe('between two waits (stoppedWaiting)', () => {
  it('nothing while the signal is live and the deadline ahead', () => {
    vi.useFakeTimers();
    expect(stoppedWaiting({}, NOTE)).toBeUndefined();
    expect(stoppedWaiting({ deadline: Date.now() + 1, signal: new AbortController().signal }, NOTE)).toBeUndefined();
  });

  it('DEADLINE_EXCEEDED from the deadline on', () => {
    vi.useFakeTimers();
    for (const deadline of [Date.now(), Date.now() - 1]) {
      const error = stoppedWaiting({ deadline }, NOTE);
      expect(error).toBeInstanceOf(DeadlineExceededError);
      expect(error?.message).toBe(`the deadline passed${NOTE}`);
    }
  });
});

describe('waiting until a signal aborts (untilAborted)', () => {
  it('answers what the promise settles with, value or error', async () => {
    const signal = new AbortController().signal;
    await expect(untilAborted(Promise.resolve('line'), signal)).resolves.toBe('line');
    await expect(untilAborted(Promise.reject(new Error('journalctl exited')), signal)).rejects.toThrow('journalctl exited');
  });

  it("rejects every wait it guards with the signal's reason when it aborts", async () => {
    const controller = new AbortController();
    const reason = new CancelledError('the caller went away');
    const never = new Promise<never>(() => {});
    const waits = [untilAborted(never, controller.signal), untilAborted(never, controller.signal)];
    controller.abort(reason);
    for (const wait of waits) await expect(wait).rejects.toBe(reason);
  });

  it('rejects at once on a signal that has already aborted', async () => {
    const controller = new AbortController();
    const reason = new ServerShuttingDownError('the server is shutting down');
    controller.abort(reason);
    await expect(untilAborted(new Promise<never>(() => {}), controller.signal)).rejects.toBe(reason);
  });

  it('adds one abort listener to a signal however many waits it guards', async () => {
    const controller = new AbortController();
    for (let i = 0; i < 100; i++) await untilAborted(Promise.resolve(i), controller.signal);
    const pending = untilAborted(new Promise<never>(() => {}), controller.signal);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort(new CancelledError('done'));
    await expect(pending).rejects.toThrow('done');
  });
});
