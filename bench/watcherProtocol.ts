import type { ActiveState } from '../gen/lit/stream/v1/stream.js';

/**
 * Milliseconds on CLOCK_MONOTONIC (process.hrtime), which every process on the machine shares: the
 * bench and its watcher processes compare their times on it.
 */
export function hrtimeMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** The bench to a watcher process: open `count` watchers (numbered from `first`) over `channels` connections. */
export interface WatchersOpen {
  readonly type: 'open';
  readonly address: string;
  readonly team: string;
  readonly first: number;
  readonly count: number;
  readonly channels: number;
  /** Streams each watcher's snapshot must have at least. */
  readonly size: number;
  readonly batchInitial: boolean;
}

/** The bench to a watcher process: time the change of `name` away from `from` until one of `settledStates`. */
export interface WatchersRound {
  readonly type: 'round';
  readonly r: number;
  readonly name: string;
  readonly from: ActiveState;
  readonly settledStates: readonly ActiveState[];
}

export type ToWatchers = WatchersOpen | WatchersRound | { readonly type: 'close' };

/** Times are hrtimeMs(). */
export type FromWatchers =
  /** The process listens for `open`. */
  | { readonly type: 'started' }
  /** Every watcher of the process has its snapshot. */
  | { readonly type: 'ready'; readonly at: number; readonly messages: number; readonly replaced: number }
  /** The process is timing round `r`. */
  | { readonly type: 'armed'; readonly r: number }
  /** Every watcher of the process got round `r`'s change: the first and the last got it at firstMin/firstMax, the final state at settledMax. */
  | { readonly type: 'round-done'; readonly r: number; readonly firstMin: number; readonly firstMax: number; readonly settledMax: number }
  | { readonly type: 'failed'; readonly reason: string };
