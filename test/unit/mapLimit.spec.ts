import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mapLimited } from '../../clients/typescript/src/cli/inOrder.js';
import { mapLimit } from '../../src/core/mapLimit.js';

/** A promise and the hands that settle it. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

/** Lets every promise callback that is ready run (a few turns of the microtask queue and one macrotask). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Counts work in flight: what the helper promises never to exceed. */
function inFlightCounter() {
  const counter = { now: 0, most: 0, started: [] as number[] };
  const track = async <R>(index: number, work: () => Promise<R>): Promise<R> => {
    counter.started.push(index);
    counter.now++;
    counter.most = Math.max(counter.most, counter.now);
    try {
      return await work();
    } finally {
      counter.now--;
    }
  };
  return { counter, track };
}

describe.each([
  ['mapLimit (the server)', mapLimit],
  ['mapLimited (lit-streamctl)', mapLimited],
])('%s: work over items, N at a time', (_name, mapLimit) => {
  it("answers in the items' order, however the work finishes", async () => {
    const gates = [0, 1, 2, 3, 4].map(() => deferred<void>());
    const results = mapLimit(['a', 'b', 'c', 'd', 'e'], 5, async (item, index) => {
      await gates[index]!.promise;
      return `${item}${index}`;
    });
    for (const gate of [...gates].reverse()) gate.resolve();
    expect(await results).toEqual(['a0', 'b1', 'c2', 'd3', 'e4']);
  });

  it('never has more than N in flight, and starts the next as soon as one finishes', async () => {
    const gates = Array.from({ length: 7 }, () => deferred<void>());
    const { counter, track } = inFlightCounter();
    const done = mapLimit(gates, 3, (gate, index) => track(index, () => gate.promise));
    await settle();
    expect(counter.started).toEqual([0, 1, 2]);
    gates[1]!.resolve();
    await settle();
    expect(counter.started).toEqual([0, 1, 2, 3]);
    expect(counter.now).toBe(3);
    for (const gate of gates) gate.resolve();
    await done;
    expect(counter.most).toBe(3);
  });

  it('holds for any number of items, limit and finishing order (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(5), { maxLength: 40 }), fc.integer({ min: 1, max: 8 }), async (turns, limit) => {
        const { counter, track } = inFlightCounter();
        const results = await mapLimit(turns, limit, (wait, index) =>
          track(index, async () => {
            for (let turn = 0; turn < wait; turn++) await settle();
            return index * 2;
          }),
        );
        expect(results).toEqual(turns.map((_, index) => index * 2));
        expect(counter.started).toEqual(turns.map((_, index) => index));
        expect(counter.most).toBe(Math.min(limit, turns.length));
        expect(counter.now).toBe(0);
      }),
      { numRuns: 60 },
    );
  });

  it('rejects with the first failure once the work in flight has settled, starting nothing more', async () => {
    const gates = Array.from({ length: 6 }, () => deferred<void>());
    const { counter, track } = inFlightCounter();
    const done = mapLimit(gates, 2, (gate, index) => track(index, () => gate.promise));
    let rejected = false;
    done.catch(() => (rejected = true));
    await settle();
    gates[0]!.reject(new Error('first'));
    await settle();
    expect(counter.started).toEqual([0, 1]); // item 2 does not start after the failure
    expect(rejected).toBe(false); // item 1 is still in flight
    gates[1]!.resolve();
    await expect(done).rejects.toThrow('first');
    expect(counter.started).toEqual([0, 1]);
    expect(counter.now).toBe(0);
  });

  it('goes through every item when the work catches its own failures', async () => {
    const seen: number[] = [];
    const results = await mapLimit([1, 2, 3, 4], 2, async (item) => {
      seen.push(item);
      return item % 2 === 0 ? Promise.reject(new Error(`item ${item}`)).catch(() => 'failed') : 'ok';
    });
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(results).toEqual(['ok', 'failed', 'ok', 'failed']);
  });

  it('answers nothing for no items, and refuses a limit below 1', async () => {
    expect(await mapLimit([], 4, async () => 1)).toEqual([]);
    for (const limit of [0, -1, 1.5, Number.NaN]) await expect(mapLimit([1], limit, async () => 1)).rejects.toThrow(RangeError);
  });
});
