import { describe, expect, it } from 'vitest';
import type { StreamStatus } from '../../src/core/status.js';
import { CoalescingQueue, type WatchMessage } from '../../src/api/coalescingQueue.js';

function status(name: string, activeState: string, host?: string): StreamStatus {
  return { team: 'contoso', name, unit: `lit-stream-contoso@${name}.service`, loadState: 'loaded', activeState, subState: '', usageSource: 'none', restartCount: 0, result: 'success', host };
}

/** Takes everything waiting, as a watcher that finally reads would. */
async function drain(queue: CoalescingQueue): Promise<string[]> {
  const taken: WatchMessage[] = [];
  const signal = new AbortController().signal;
  while (queue.held > 0) taken.push(await queue.next(signal));
  return taken.map((m) =>
    m.kind === 'hostLost' ? `lost ${m.hostError.host}` : `${m.kind} ${m.status.host ? `${m.status.host}/` : ''}${m.status.name}:${m.status.activeState}`,
  );
}

describe("a watcher's queue of messages not yet taken", () => {
  it('hands over every message, in order, while the watcher keeps up', async () => {
    const queue = new CoalescingQueue();
    const seen: string[] = [];
    for (const state of ['inactive', 'activating', 'active']) {
      queue.push({ kind: state === 'inactive' ? 'initial' : 'changed', status: status('a', state) });
      seen.push(...(await drain(queue)));
    }
    expect(seen).toEqual(['initial a:inactive', 'changed a:activating', 'changed a:active']);
  });

  it('holds at most one message per stream while the watcher lags, the latest, in order of change', async () => {
    const queue = new CoalescingQueue();
    queue.push({ kind: 'changed', status: status('a', 'activating') });
    for (let i = 0; i < 1000; i++) {
      queue.push({ kind: 'changed', status: status('b', i % 2 ? 'failed' : 'active') });
      queue.push({ kind: 'changed', status: status('a', i % 2 ? 'active' : 'inactive') });
    }
    expect(queue.held).toBe(2); // not 2001: memory stays bounded by the number of streams
    expect(await drain(queue)).toEqual(['changed b:failed', 'changed a:active']);
  });

  it("keeps a stream's first message INITIAL when a change overtakes it", async () => {
    const queue = new CoalescingQueue();
    queue.push({ kind: 'initial', status: status('a', 'inactive') });
    queue.push({ kind: 'initial', status: status('b', 'inactive') });
    queue.push({ kind: 'changed', status: status('b', 'active') });
    expect(await drain(queue)).toEqual(['initial a:inactive', 'initial b:active']);
  });

  it('keeps a change that came before the snapshot was queued, as INITIAL: the change is newer', async () => {
    const queue = new CoalescingQueue();
    queue.push({ kind: 'changed', status: status('a', 'active') });
    queue.push({ kind: 'initial', status: status('a', 'inactive') });
    expect(await drain(queue)).toEqual(['initial a:active']);
  });

  it('wakes a waiting watcher on the next message, and lets it go when its call ends', async () => {
    const queue = new CoalescingQueue();
    const abort = new AbortController();
    const waiting = queue.next(abort.signal);
    queue.push({ kind: 'changed', status: status('a', 'active') });
    await expect(waiting).resolves.toMatchObject({ status: { name: 'a' } });
    const parked = queue.next(abort.signal);
    abort.abort(new Error('the caller cancelled'));
    await expect(parked).rejects.toThrow('the caller cancelled');
  });

  it('keeps a stream of the same name on two hosts apart', async () => {
    const queue = new CoalescingQueue();
    queue.push({ kind: 'changed', status: status('a', 'active', 'feed-1') });
    queue.push({ kind: 'changed', status: status('a', 'failed', 'feed-2') });
    queue.push({ kind: 'changed', status: status('a', 'inactive', 'feed-1') });
    expect(await drain(queue)).toEqual(['changed feed-2/a:failed', 'changed feed-1/a:inactive']);
  });

  it("drops what waits of a lost host's streams for the one message saying it is lost", async () => {
    const queue = new CoalescingQueue();
    queue.push({ kind: 'changed', status: status('a', 'active', 'feed-1') });
    queue.push({ kind: 'initial', status: status('b', 'active', 'feed-2') });
    queue.push({ kind: 'hostLost', hostError: { host: 'feed-1', code: 'UNAVAILABLE', message: 'gone' } });
    queue.push({ kind: 'hostLost', hostError: { host: 'feed-1', code: 'UNAVAILABLE', message: 'still gone' } });
    expect(await drain(queue)).toEqual(['initial feed-2/b:active', 'lost feed-1']);
  });

  it("sends a lost host's streams again once they come after its loss", async () => {
    const queue = new CoalescingQueue();
    queue.push({ kind: 'hostLost', hostError: { host: 'feed-1', code: 'UNAVAILABLE', message: 'gone' } });
    queue.push({ kind: 'changed', status: status('a', 'active', 'feed-1') });
    expect(await drain(queue)).toEqual(['lost feed-1', 'changed feed-1/a:active']);
  });
});
