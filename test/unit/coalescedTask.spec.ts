import { describe, expect, it } from 'vitest';
import { CoalescedTask } from '../../src/core/coalescedTask.js';

describe('a coalesced task (resyncs triggered by bursts of signals)', () => {
  it('runs once more after the current run however often it is asked meanwhile', async () => {
    let runs = 0;
    let release!: () => void;
    const task = new CoalescedTask(async () => {
      runs++;
      if (runs === 1) await new Promise<void>((resolve) => (release = resolve));
    });
    const first = task.request();
    const asks = [task.request(), task.request(), task.request()];
    release();
    await Promise.all([first, ...asks]);
    expect(runs).toBe(2);
  });

  it('answers each request with the run that covers it, not with reruns asked for later', async () => {
    const releases: (() => void)[] = [];
    let runs = 0;
    const task = new CoalescedTask(async () => {
      runs++;
      await new Promise<void>((resolve) => releases.push(resolve));
    });
    void task.request(); // run 1
    let covered = false;
    const mine = task.request().then(() => (covered = true)); // covered by run 2
    releases.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(runs).toBe(2);
    void task.request(); // asked during run 2: run 3, which `mine` need not wait for
    releases.shift()!();
    await mine;
    expect(covered).toBe(true);
    expect(runs).toBe(3);
    releases.shift()!();
    await task.settled();
  });

  it('does not rerun when no longer wanted', async () => {
    let runs = 0;
    let wanted = true;
    let release!: () => void;
    const task = new CoalescedTask(async () => {
      runs++;
      await new Promise<void>((resolve) => (release = resolve));
    }, () => wanted);
    const first = task.request();
    void task.request();
    wanted = false;
    release();
    await first;
    expect(runs).toBe(1);
  });

  it('is settled once nothing runs, even after a failed run, and runs again when asked', async () => {
    let runs = 0;
    const task = new CoalescedTask(async () => {
      runs++;
      if (runs === 1) throw new Error('boom');
    });
    await expect(task.request()).rejects.toThrow('boom');
    await task.settled();
    await task.request();
    expect(runs).toBe(2);
  });
});
