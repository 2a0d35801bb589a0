import { ResourceExhaustedError } from '../core/errors.js';

/** How many calls may be open at once; what happens past them is RESOURCE_EXHAUSTED. */
export interface CallLimitOptions {
  /** Unary calls in flight per identity (anonymous counts as one identity). */
  readonly maxCallsPerIdentity: number;
  /** Open streaming calls (WatchStatus, Logs, reflection, Health/Watch) per identity. */
  readonly maxStreamsPerIdentity: number;
  /** Open streaming calls in all. */
  readonly maxStreams: number;
}

export const DEFAULT_CALL_LIMITS: CallLimitOptions = {
  maxCallsPerIdentity: 64,
  // A dashboard watching each stream of a large team on its own still fits; 100k from one
  // reader does not. Each open stream costs the server some 150 KB (HTTP/2 state, buffers).
  maxStreamsPerIdentity: 1_024,
  maxStreams: 4_096,
};

export type CallKind = 'unary' | 'stream';

/**
 * Counts calls in flight per identity and kind, and open streams in all. A unary call is short, so
 * its limit bounds concurrency; a stream can stay open for days, so its limits bound what one
 * caller, and everyone together, can hold open.
 */
export class CallLimits {
  private readonly counts = new Map<string, number>();
  private openStreams = 0;

  constructor(readonly options: CallLimitOptions = DEFAULT_CALL_LIMITS) {}

  /** Counts a call against the limits, or throws RESOURCE_EXHAUSTED; returns the release. */
  admit(kind: CallKind, label: string): () => void {
    const key = `${kind}\u0000${label}`;
    const current = this.counts.get(key) ?? 0;
    const perIdentity = kind === 'unary' ? this.options.maxCallsPerIdentity : this.options.maxStreamsPerIdentity;
    if (current >= perIdentity) {
      const what = kind === 'unary' ? 'calls in flight' : 'open streams';
      throw new ResourceExhaustedError(`${label} already has ${current} ${what} (limit ${perIdentity}); retry when one ends`);
    }
    if (kind === 'stream' && this.openStreams >= this.options.maxStreams) {
      throw new ResourceExhaustedError(`the server already has ${this.openStreams} open streams (limit ${this.options.maxStreams}); retry later`);
    }
    this.counts.set(key, current + 1);
    if (kind === 'stream') this.openStreams++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (kind === 'stream') this.openStreams--;
      const left = (this.counts.get(key) ?? 1) - 1;
      if (left === 0) this.counts.delete(key);
      else this.counts.set(key, left);
    };
  }

  /** Open streams in all (for tests, diagnostics and metrics). */
  get streams(): number {
    return this.openStreams;
  }
}

/**
 * HTTP/2 and connection limits of the gRPC server (grpc-js server options). Streams per connection
 * bound what one connection can open before the call limits even see it; keepalive pings find
 * peers that vanished without closing (their streams would stay open for ever); an idle connection
 * (no call for a while) is closed, and clients reconnect transparently when they next call.
 */
export const HTTP2_LIMITS = {
  'grpc.max_concurrent_streams': 1_000,
  'grpc.keepalive_time_ms': 60_000,
  'grpc.keepalive_timeout_ms': 20_000,
  'grpc.max_connection_idle_ms': 10 * 60_000,
} as const;
