import { untilAborted } from '../core/abortable.js';
import type { StreamChangeKind } from '../core/backend.js';
import type { StreamStatus } from '../core/status.js';

/** What a watcher is sent of one stream: its status, as first seen (INITIAL) or since. */
export type WatchMessageKind = 'initial' | StreamChangeKind;

export interface WatchMessage {
  readonly kind: WatchMessageKind;
  readonly status: StreamStatus;
}

/**
 * The messages a watcher has not taken yet, at most one per stream: a newer status of a stream
 * replaces the one waiting, so a watcher that reads slower than changes come gets each stream's
 * latest status rather than every intermediate one. A stream's first message keeps the kind
 * INITIAL even when a change overtook it. Coalescing is documented in the proto (WatchStatus).
 */
export class CoalescingQueue {
  private readonly pending = new Map<string, { kind: WatchMessageKind; status: StreamStatus }>();
  private wake: (() => void) | undefined;

  push({ kind, status }: WatchMessage): void {
    const name = status.name;
    const waiting = this.pending.get(name);
    if (waiting && kind === 'initial') {
      // The snapshot was taken before a change already waiting here: that change is newer.
      waiting.kind = 'initial';
    } else {
      // Delete, then set: the Map's order is the order of each stream's latest change.
      this.pending.delete(name);
      this.pending.set(name, { kind: waiting?.kind === 'initial' && kind === 'changed' ? 'initial' : kind, status });
    }
    this.wake?.();
  }

  /** The oldest waiting message, once there is one; rejects with the signal's reason on abort. */
  async next(signal: AbortSignal): Promise<WatchMessage> {
    while (this.pending.size === 0) {
      await untilAborted(new Promise<void>((resolve) => (this.wake = resolve)), signal);
      this.wake = undefined;
    }
    const [name, message] = this.pending.entries().next().value as [string, WatchMessage];
    this.pending.delete(name);
    return message;
  }

  /** Messages waiting (for tests and diagnostics). */
  get held(): number {
    return this.pending.size;
  }
}
