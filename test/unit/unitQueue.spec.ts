import { describe, expect, it, vi } from 'vitest';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DeadlineExceededError } from '../../src/core/errors.js';
import type { Action } from '../../src/core/status.js';
import { CanceledByStopError, type JobRunner, UnitQueue } from '../../src/control/unitQueue.js';
import type { FinishedJob } from '../../src/systemd/jobs.js';

function deferred<T>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((res) => (resolve = res));
  return { promise, resolve };
}

/**
 * A stand-in for systemd's job queue, enough for the order of calls: a request is recorded as sent
 * when its enqueue call is made, answered with its job path on `accept`, and its job removed on
 * `finish`, each when the spec says so.
 */
class FakeSystemd implements JobRunner {
  readonly sent: string[] = [];
  private readonly jobs = new Map<string, { accepted: ReturnType<typeof deferred<string>>; finished: ReturnType<typeof deferred<string>> }>();

  run(enqueue: () => Promise<string>): Promise<FinishedJob> {
    return enqueue().then(async (jobPath) => ({ jobPath, result: await this.job(jobPath).finished.promise }));
  }

  request(name: string): () => Promise<string> {
    return () => {
      this.sent.push(name);
      return this.job(name).accepted.promise;
    };
  }

  accept(name: string): void {
    this.job(name).accepted.resolve(name);
  }

  finish(name: string, result = 'done'): void {
    this.job(name).finished.resolve(result);
  }

  private job(name: string) {
    let job = this.jobs.get(name);
    if (!job) this.jobs.set(name, (job = { accepted: deferred<string>(), finished: deferred<string>() }));
    return job;
  }
}

function act(queue: UnitQueue, systemd: FakeSystemd, action: Action, name: string, limits = {}): Promise<FinishedJob> {
  return queue.run('u.service', action, limits, (slot) => slot.job(systemd.request(name), systemd));
}

const sentSoFar = async (systemd: FakeSystemd, names: string[]) => vi.waitFor(() => expect(systemd.sent).toEqual(names));

describe('UnitQueue: one systemd job at a time per unit', () => {
  it('sends nothing for a caller who went away between its turn and the request (the controller may ask systemd something first)', async () => {
    const queue = new UnitQueue();
    const systemd = new FakeSystemd();
    const caller = new AbortController();
    const started = queue.run('u.service', 'start', { signal: caller.signal }, async (slot) => {
      caller.abort(); // e.g. while the controller reads NRestarts
      return slot.job(systemd.request('a'), systemd);
    });
    await expect(started).rejects.toThrow(/the start was not sent to systemd/);
    const late = queue.run('u.service', 'restart', {}, async (slot) => {
      return slot.job(systemd.request('b'), systemd);
    });
    systemd.accept('b');
    systemd.finish('b');
    await expect(late).resolves.toMatchObject({ result: 'done' });
    expect(systemd.sent).toEqual(['b']); // 'a' never reached systemd, and did not hold the unit
  });

  it('sends nothing for a caller whose deadline passed between its turn and the request', async () => {
    const queue = new UnitQueue();
    const systemd = new FakeSystemd();
    const deadline = Date.now() + 50;
    const started = queue.run('u.service', 'start', { deadline }, async (slot) => {
      await vi.waitFor(() => expect(Date.now()).toBeGreaterThanOrEqual(deadline));
      return slot.job(systemd.request('a'), systemd);
    });
    await expect(started).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(systemd.sent).toEqual([]);
  });

  it('sends Starts and Restarts in arrival order, each once the job ahead has ended', async () => {
    const queue = new UnitQueue();
    const systemd = new FakeSystemd();
    const a = act(queue, systemd, 'start', 'a');
    const b = act(queue, systemd, 'restart', 'b');
    await sentSoFar(systemd, ['a']);
    systemd.accept('a');
    await vi.waitFor(() => expect(queue.queued('u.service')).toBe(1));
    expect(systemd.sent).toEqual(['a']);
    systemd.finish('a');
    await expect(a).resolves.toMatchObject({ jobPath: 'a', result: 'done' });
    await sentSoFar(systemd, ['a', 'b']);
    systemd.accept('b');
    systemd.finish('b');
    await expect(b).resolves.toMatchObject({ jobPath: 'b' });
  });

  it('keeps the callers behind in their place when one in between gives up', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const queue = new UnitQueue();
      const systemd = new FakeSystemd();
      const a = act(queue, systemd, 'restart', 'a');
      const b = act(queue, systemd, 'restart', 'b', { deadline: Date.now() + 300 }).catch((error: unknown) => error);
      await vi.advanceTimersByTimeAsync(301);
      expect(await b).toBeInstanceOf(DeadlineExceededError);
      const c = act(queue, systemd, 'restart', 'c');
      await vi.advanceTimersByTimeAsync(1);
      expect(systemd.sent).toEqual(['a']);
      systemd.accept('a');
      systemd.finish('a');
      await a;
      await vi.advanceTimersByTimeAsync(1);
      expect(systemd.sent).toEqual(['a', 'c']);
      systemd.accept('c');
      systemd.finish('c');
      await c;
    } finally {
      vi.useRealTimers();
    }
  });

  it('holds the unit until systemd has removed a job whose caller stopped waiting for it', async () => {
    const queue = new UnitQueue();
    const systemd = new FakeSystemd();
    const abort = new AbortController();
    const a = act(queue, systemd, 'start', 'a', { signal: abort.signal });
    systemd.accept('a');
    await sentSoFar(systemd, ['a']);
    abort.abort(new DeadlineExceededError('the deadline passed'));
    await expect(a).rejects.toThrow("the deadline passed; the start job a is still running in systemd");
    const b = act(queue, systemd, 'start', 'b');
    await vi.waitFor(() => expect(queue.queued('u.service')).toBe(1));
    expect(systemd.sent).toEqual(['a']);
    systemd.finish('a');
    await sentSoFar(systemd, ['a', 'b']);
    systemd.accept('b');
    systemd.finish('b');
    await b;
  });

  it('sends a Stop as soon as the running Start has reached systemd, and cancels the queued ones unsent', async () => {
    const queue = new UnitQueue();
    const systemd = new FakeSystemd();
    const start = act(queue, systemd, 'start', 'start');
    const restart = act(queue, systemd, 'restart', 'restart');
    await vi.waitFor(() => expect(queue.queued('u.service')).toBe(1));
    const stop = act(queue, systemd, 'stop', 'stop');
    // The queued Restart would only undo the Stop: it is canceled, never sent.
    await expect(restart).rejects.toBeInstanceOf(CanceledByStopError);
    await sentSoFar(systemd, ['start']);
    // Not before: systemd must see the start request first, or the start job would replace the stop.
    expect(queue.queued('u.service')).toBe(1);
    systemd.accept('start');
    await sentSoFar(systemd, ['start', 'stop']);
    systemd.accept('stop');
    systemd.finish('start', 'canceled');
    await expect(start).resolves.toMatchObject({ result: 'canceled' });
    systemd.finish('stop');
    await stop;
    // A Start that comes after the Stop queues behind it as usual.
    const later = act(queue, systemd, 'start', 'later');
    await sentSoFar(systemd, ['start', 'stop', 'later']);
    systemd.accept('later');
    systemd.finish('later');
    await later;
  });

  it('sends Stops one after another', async () => {
    const queue = new UnitQueue();
    const systemd = new FakeSystemd();
    const first = act(queue, systemd, 'stop', 'first');
    const second = act(queue, systemd, 'stop', 'second');
    systemd.accept('first');
    await sentSoFar(systemd, ['first']);
    expect(queue.queued('u.service')).toBe(1);
    systemd.finish('first');
    await first;
    await sentSoFar(systemd, ['first', 'second']);
    systemd.accept('second');
    systemd.finish('second');
    await second;
  });
});

describe('UnitQueue: memory', () => {
  it('keeps nothing per action once it has ended, however long the server runs', async () => {
    // The heap after a forced GC, in MB: what outlives the actions (gc is exposed just for this).
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heapMb = () => {
      gc();
      return process.memoryUsage().heapUsed / 2 ** 20;
    };
    const queue = new UnitQueue();
    const instant: JobRunner = { run: async (enqueue) => ({ jobPath: await enqueue(), result: 'done' }) };
    // Each caller has a signal of its own (its call's), as the server's handlers pass.
    const actions = (count: number) =>
      Promise.all(
        Array.from({ length: count }, (_, i) =>
          queue.run(`u${i % 16}.service`, 'start', { signal: new AbortController().signal }, (slot) =>
            slot.job(async () => `/job/${i}`, instant),
          ),
        ),
      );
    for (let round = 0; round < 5; round++) await actions(2_000); // warm up
    const before = heapMb();
    for (let round = 0; round < 10; round++) await actions(2_000);
    // 20,000 actions: a few hundred bytes kept per action would be several MB (2 KB on Node 20).
    // The bound leaves room for what the heap does by itself.
    const grown = heapMb() - before;
    expect(grown).toBeLessThan(4);
  });
});
