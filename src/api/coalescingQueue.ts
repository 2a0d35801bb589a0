import { untilAborted } from '../core/abortable.js';
import type { HostError, StreamChangeKind, WatchEvent } from '../core/backend.js';
import type { StreamStatus } from '../core/status.js';

/** What a watcher is sent of one stream: its status, as first seen (INITIAL) or since. */
export type WatchMessageKind = 'initial' | StreamChangeKind;

/** What a watcher is sent: a stream's status of some kind, or a host of the fleet it lost. */
export type WatchMessage =
  | { readonly kind: WatchMessageKind; readonly status: StreamStatus }
  | { readonly kind: 'hostLost'; readonly hostError: HostError };

/**
 * The messages a watcher has not taken yet, at most one per stream (a stream is its host and name)
 * and one per lost host: a newer status of a stream replaces the one waiting, so a watcher that
 * reads slower than changes come gets each stream's latest status rather than every intermediate
 * one. A stream's first message keeps the kind INITIAL even when a change overtook it. A lost host
 * drops what waits of its streams (no longer current) for the one message saying so; its streams
 * come again once it answers. Coalescing is documented in the proto (WatchStatus).
 */
export class CoalescingQueue {
  private readonly pending = new Map<string, WatchMessage>();
  private wake: (() => void) | undefined;

  push(event: WatchEvent | WatchMessage): void {
    if (event.kind === 'hostLost') {
      const host = event.hostError.host;
      for (const [key, waiting] of this.pending) if (waiting.kind !== 'hostLost' && waiting.status.host === host) this.pending.delete(key);
      this.requeue(`lost ${host}`, event);
    } else {
      const { kind, status } = event;
      const key = `${status.host ?? ''}/${status.name}`;
      const waiting = this.pending.get(key);
      if (waiting && waiting.kind !== 'hostLost' && kind === 'initial') {
        // The snapshot was taken before a change already waiting here: that change is newer.
        this.pending.set(key, { kind: 'initial', status: waiting.status });
      } else {
        this.requeue(key, { kind: waiting?.kind === 'initial' && kind === 'changed' ? 'initial' : kind, status });
      }
    }
    this.wake?.();
  }

  /** The oldest waiting message, once there is one; rejects with the signal's reason on abort. */
  async next(signal: AbortSignal): Promise<WatchMessage> {
    while (this.pending.size === 0) {
      await untilAborted(new Promise<void>((resolve) => (this.wake = resolve)), signal);
      this.wake = undefined;
    }
    const [key, message] = this.pending.entries().next().value as [string, WatchMessage];
    this.pending.delete(key);
    return message;
  }

  /** Messages waiting (for tests and diagnostics). */
  get held(): number {
    return this.pending.size;
  }

  /** Delete, then set: the Map's order is the order of each key's latest message. */
  private requeue(key: string, message: WatchMessage): void {
    this.pending.delete(key);
    this.pending.set(key, message);
  }
}
