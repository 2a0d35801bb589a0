import { ResourceExhaustedError } from '../core/errors.js';

/** How many calls may be open at once; what happens past them is RESOURCE_EXHAUSTED. */
export interface CallLimitOptions {
  /** Unary calls in flight per identity (anonymous counts as one identity). */
  readonly maxCallsPerIdentity: number;
  /** Open streaming calls (WatchStatus, Logs, reflection) per identity. */
  readonly maxStreamsPerIdentity: number;
  /** Open streaming calls in all, of every identity. */
  readonly maxStreams: number;
}

export const DEFAULT_CALL_LIMITS: CallLimitOptions = {
  maxCallsPerIdentity: 64,
  // A dashboard watching each stream of a large team on its own still fits; 100k from one
  // reader does not. Each open stream costs the server some 150 KB (HTTP/2 state, buffers).
  maxStreamsPerIdentity: 1_024,
  maxStreams: 4_096,
};

/**
 * Calls that need no identity (health, for probes) have a budget of their own, so that callers
 * without credentials can never use up what identified callers are allowed: a probe watches
 * health once or twice per peer, and a few hundred peers at once is already a large fleet.
 */
export const UNIDENTIFIED_LIMITS = { streamsPerPeer: 16, streams: 256 } as const;

export type CallKind = 'unary' | 'stream';

/** Who a call counts against: an identity (`anonymous` without an access file), or only a peer. */
export type Counted = { readonly identity: string } | { readonly peer: string };

/**
 * Counts calls in flight per identity and kind, and open streams in all. A unary call is short, so
 * its limit bounds concurrency; a stream can stay open for days, so its limits bound what one
 * caller, and everyone together, can hold open. Calls without an identity are counted per peer
 * address in a pool of their own (UNIDENTIFIED_LIMITS).
 */
export class CallLimits {
  private readonly counts = new Map<string, number>();
  private readonly open = { identified: 0, unidentified: 0 };

  constructor(readonly options: CallLimitOptions = DEFAULT_CALL_LIMITS) {}

  /** Counts a call against the limits, or throws RESOURCE_EXHAUSTED; returns the release. */
  admit(kind: CallKind, who: Counted): () => void {
    const pool = 'identity' in who ? 'identified' : 'unidentified';
    const label = 'identity' in who ? who.identity : `peer ${who.peer}`;
    const key = `${kind}\u0000${pool}\u0000${label}`;
    const current = this.counts.get(key) ?? 0;
    const [perCaller, inAll] =
      kind === 'unary'
        ? [this.options.maxCallsPerIdentity, Number.POSITIVE_INFINITY]
        : pool === 'identified'
          ? [this.options.maxStreamsPerIdentity, this.options.maxStreams]
          : [UNIDENTIFIED_LIMITS.streamsPerPeer, UNIDENTIFIED_LIMITS.streams];
    if (current >= perCaller) {
      const what = kind === 'unary' ? 'calls in flight' : 'open streams';
      throw new ResourceExhaustedError(`${label} already has ${current} ${what} (limit ${perCaller}); retry when one ends`);
    }
    if (kind === 'stream' && this.open[pool] >= inAll) {
      const whose = pool === 'identified' ? '' : ' without credentials';
      throw new ResourceExhaustedError(`the server already has ${this.open[pool]} open streams${whose} (limit ${inAll}); retry later`);
    }
    this.counts.set(key, current + 1);
    if (kind === 'stream') this.open[pool]++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (kind === 'stream') this.open[pool]--;
      const left = (this.counts.get(key) ?? 1) - 1;
      if (left === 0) this.counts.delete(key);
      else this.counts.set(key, left);
    };
  }

  /** Open streams in all (for tests, diagnostics and metrics). */
  get streams(): number {
    return this.open.identified + this.open.unidentified;
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
