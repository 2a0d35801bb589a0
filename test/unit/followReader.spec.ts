import { describe, expect, it } from 'vitest';
import type { JournalEntry } from '../../src/systemd/journalEntry.js';
import { FollowReader } from '../../src/systemd/journalFollowers.js';

const entry = (n: number, message = `line ${n}`): JournalEntry => ({ cursor: `s=a;i=${n.toString(16)}`, realtimeUsec: BigInt(n), priority: 6, message });

describe("a follower's reader (one client's share of a unit's journalctl --follow)", () => {
  it('hands over what arrived, in order, as one batch', async () => {
    const reader = new FollowReader({}, () => undefined);
    reader.push(entry(1));
    reader.push(entry(2));
    expect(await reader.next()).toEqual({ dropped: 0, entries: [entry(1), entry(2)] });
  });

  it('keeps at most its limit for a slow reader and then says how many lines it dropped, where', async () => {
    const reader = new FollowReader({ entries: 3 }, () => undefined);
    for (let n = 1; n <= 10; n++) reader.push(entry(n));
    expect(reader.buffered).toBe(3);
    expect(await reader.next()).toEqual({ dropped: 0, entries: [entry(1), entry(2), entry(3)] });
    // Entries 4 to 10 of those it was sent: a backlog that sent them tells it had none dropped.
    expect(await reader.next()).toEqual({ dropped: 7, entries: [] });
    reader.push(entry(11));
    expect(await reader.next()).toEqual({ dropped: 0, entries: [entry(11)] });
  });

  it('puts the count of dropped lines between the lines before and after the gap', async () => {
    const reader = new FollowReader({ entries: 2 }, () => undefined);
    reader.push(entry(1));
    reader.push(entry(2));
    reader.push(entry(3)); // dropped
    expect(await reader.next()).toEqual({ dropped: 0, entries: [entry(1), entry(2)] });
    reader.push(entry(4));
    expect(await reader.next()).toEqual({ dropped: 1, entries: [entry(4)] });
  });

  it('bounds the bytes it holds as well as the lines', () => {
    const reader = new FollowReader({ bytes: 100 }, () => undefined);
    reader.push(entry(1, 'x'.repeat(60)));
    reader.push(entry(2, 'x'.repeat(60)));
    expect(reader.buffered).toBe(1);
  });

  it('wakes a waiting reader, ends when the follower ends, and fails when it failed', async () => {
    const reader = new FollowReader({}, () => undefined);
    const waiting = reader.next();
    reader.push(entry(1));
    expect((await waiting)?.entries).toEqual([entry(1)]);
    reader.end(undefined);
    expect(await reader.next()).toBeUndefined();
    const failing = new FollowReader({}, () => undefined);
    failing.end(new Error('journalctl died'));
    await expect(failing.next()).rejects.toThrow('journalctl died');
  });

  it('stops waiting when the caller goes away, though no entry ever comes', async () => {
    const reader = new FollowReader({}, () => undefined);
    const gone = new AbortController();
    const waiting = reader.next(gone.signal);
    gone.abort(new Error('cancelled'));
    await expect(waiting).rejects.toThrow('cancelled');
    await expect(reader.next(gone.signal)).rejects.toThrow('cancelled');
  });

  it('gives its share back when its loop ends', async () => {
    let closed = 0;
    const reader = new FollowReader({}, () => closed++);
    reader.push(entry(1));
    for await (const batch of reader) {
      expect(batch.entries).toHaveLength(1);
      break;
    }
    expect(closed).toBe(1);
  });
});
