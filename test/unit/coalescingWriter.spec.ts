import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { activeStateWord } from '../../src/core/stateNames.js';
import type { StreamStatus } from '../../src/core/status.js';
import { CoalescingWriter } from '../../src/server/watchStatus.js';
import { WatchEventKind, WatchStatusResponse } from '../../gen/lit/stream/v1/stream.js';

/** A stand-in for grpc-js's server stream: accepts `capacity` writes, then reports backpressure. */
class SlowCall extends EventEmitter {
  readonly written: WatchStatusResponse[] = [];
  /** The writer sends encoded messages; decode them as the client would. */
  cancelled = false;
  writableEnded = false;
  constructor(private capacity: number) {
    super();
  }
  write(message: Buffer): boolean {
    this.written.push(WatchStatusResponse.decode(message));
    return --this.capacity > 0;
  }
  /** The client caught up: room for `capacity` more. */
  drain(capacity: number): void {
    this.capacity = capacity;
    this.emit('drain');
  }
}

function status(name: string, activeState: string): StreamStatus {
  return { team: 'contoso', name, unit: `lit-stream-contoso@${name}.service`, loadState: 'loaded', activeState, subState: '', usageSource: 'none', restartCount: 0, result: 'success' };
}

function writerFor(call: SlowCall) {
  return new CoalescingWriter(call as unknown as ConstructorParameters<typeof CoalescingWriter>[0]);
}

const seen = (call: SlowCall) => call.written.map((m) => `${m.status?.name}:${activeStateWord(m.status!.activeState)}`);

describe('a watcher that reads slower than changes come', () => {
  it('gets every message, in order, while it keeps up', () => {
    const call = new SlowCall(100);
    const writer = writerFor(call);
    writer.send({ kind: 'initial', status: status('a', 'inactive') });
    writer.send({ kind: 'changed', status: status('a', 'activating') });
    writer.send({ kind: 'changed', status: status('a', 'active') });
    expect(seen(call)).toEqual(['a:inactive', 'a:activating', 'a:active']);
    expect(call.written[0]!.kind).toBe(WatchEventKind.WATCH_EVENT_KIND_INITIAL);
  });

  it('holds at most one message per stream while it lags, the latest, and sends them on drain', () => {
    const call = new SlowCall(1);
    const writer = writerFor(call);
    writer.send({ kind: 'changed', status: status('a', 'activating') }); // fills the buffer
    for (let i = 0; i < 1000; i++) {
      writer.send({ kind: 'changed', status: status('a', i % 2 ? 'active' : 'inactive') });
      writer.send({ kind: 'changed', status: status('b', i % 2 ? 'failed' : 'active') });
    }
    expect(writer.held).toBe(2); // not 2000: memory stays bounded by the number of streams
    call.drain(10);
    expect(seen(call)).toEqual(['a:activating', 'a:active', 'b:failed']);
    expect(writer.held).toBe(0);
  });

  it("keeps a stream's first message INITIAL when a change overtakes it in the backlog", () => {
    const call = new SlowCall(1);
    const writer = writerFor(call);
    writer.send({ kind: 'initial', status: status('a', 'inactive') });
    writer.send({ kind: 'initial', status: status('b', 'inactive') });
    writer.send({ kind: 'changed', status: status('b', 'active') });
    call.drain(10);
    expect(call.written.map((m) => m.kind)).toEqual([WatchEventKind.WATCH_EVENT_KIND_INITIAL, WatchEventKind.WATCH_EVENT_KIND_INITIAL]);
    expect(seen(call)).toEqual(['a:inactive', 'b:active']);
  });

  it('keeps holding what does not fit when the client stalls again mid-flush', () => {
    const call = new SlowCall(1);
    const writer = writerFor(call);
    writer.send({ kind: 'changed', status: status('x', 'active') });
    for (const name of ['a', 'b', 'c']) writer.send({ kind: 'changed', status: status(name, 'active') });
    call.drain(1); // room for one
    expect(seen(call)).toEqual(['x:active', 'a:active']);
    expect(writer.held).toBe(2);
    call.drain(5);
    expect(seen(call)).toEqual(['x:active', 'a:active', 'b:active', 'c:active']);
  });

  it('writes nothing once the call is cancelled', () => {
    const call = new SlowCall(10);
    const writer = writerFor(call);
    call.cancelled = true;
    writer.send({ kind: 'changed', status: status('a', 'active') });
    expect(call.written).toEqual([]);
  });
});
