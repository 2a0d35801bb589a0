import type { ClientReadableStream } from '@grpc/grpc-js';
import type { HostError, WatchEvent } from '../core/backend.js';
import type { StreamStatus } from '../core/status.js';
import { WatchEventKind, type WatchStatusResponse } from '../../gen/lit/stream/v1/stream.js';
import type { Agent } from './agent.js';
import { Backoff } from './backoff.js';
import { statusFromProto } from './fromProto.js';
import { HostFailure } from './hostFailure.js';

/** `connecting`: asked, no snapshot yet; `up`: snapshot in, changes follow; `down`: the call failed, retrying. */
export type HostWatchState = 'connecting' | 'up' | 'down';

/**
 * One host's WatchStatus of one team, kept open for every caller of the gateway: what the host
 * declares (routing) and each change as the host sends it (watchers). The agent sends its snapshot
 * batched; once it is complete the host is `up`, and its statuses here are current. When the call
 * fails (the host died, froze past the keepalive, or went away) the host is `down`: its statuses
 * are no longer current and are not served, `onEvent` gets `hostLost`, and the call is made again
 * with backoff. When the host answers again, every one of its streams comes as `changed` (and each
 * one it no longer has as `removed`), so a watcher never keeps a stale state as current.
 *
 * The call is made on behalf of the caller who last needed the team (`caller`): agents apply that
 * caller's rules (src/auth: the `gateway` role and `lit-stream-on-behalf-of`).
 */
export class HostWatch {
  #state: HostWatchState = 'connecting';
  /** The host's streams by name: current while `up`, the last known while `down`. */
  private statuses = new Map<string, StreamStatus>();
  /** Why the host is not `up` (while `down`). */
  private lost: HostError | undefined;
  private call: ClientReadableStream<WatchStatusResponse> | undefined;
  /** The snapshot being received. */
  private incoming = new Map<string, StreamStatus>();
  private readonly backoff = new Backoff();
  private retry: NodeJS.Timeout | undefined;
  /** Settles when the current attempt has an answer (up or down); replaced per attempt. */
  private attempt!: { settled: Promise<void>; settle: () => void };
  private closed = false;

  constructor(
    readonly agent: Agent,
    readonly team: string,
    /** Who the call is for; updated by the team's users. */
    public caller: string | undefined,
    private readonly onEvent: (event: WatchEvent) => void,
  ) {
    this.open();
  }

  get host(): string {
    return this.agent.host;
  }

  get state(): HostWatchState {
    return this.#state;
  }

  /** The host's current streams (none unless `up`). */
  current(): ReadonlyMap<string, StreamStatus> {
    return this.#state === 'up' ? this.statuses : new Map();
  }

  /** What the host last said of its streams: current while `up`, the last known otherwise. */
  lastKnown(): ReadonlyMap<string, StreamStatus> {
    return this.statuses;
  }

  /** Why the host's streams are not current: it failed, or has not answered yet. */
  whyNotUp(): HostError {
    return this.lost ?? { host: this.host, code: 'UNAVAILABLE', message: 'has not answered yet' };
  }

  /**
   * Resolves once this host has answered (or failed) the watch's current attempt; a host that is
   * `down` and waiting out its backoff is asked again at once. Callers bound the wait themselves.
   */
  answered(): Promise<void> {
    if (this.#state === 'up') return Promise.resolve();
    if (this.#state === 'down' && this.call === undefined) {
      clearTimeout(this.retry);
      this.open();
    }
    return this.attempt.settled;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    const call = this.call;
    this.call = undefined;
    call?.cancel();
    this.attempt.settle();
  }

  private open(): void {
    if (this.closed) return;
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    this.attempt = { settled, settle };
    this.incoming = new Map();
    const call = (this.call = this.agent.streams.watchStatus({ team: this.team, name: '', batchInitial: true }, this.agent.metadata({ caller: this.caller })));
    call.on('data', (message: WatchStatusResponse) => {
      if (this.call === call) this.receive(message);
    });
    const failed = (error: unknown) => {
      if (this.call !== call) return;
      this.call = undefined;
      call.cancel();
      this.fail(HostFailure.from(this.host, error).hostError);
    };
    call.on('error', failed);
    call.on('end', () => failed(new HostFailure(this.host, 'UNAVAILABLE', 'ended its watch')));
  }

  private receive(message: WatchStatusResponse): void {
    if (this.#state !== 'up') {
      // The snapshot, in batches; a change that follows before it is complete cannot happen (the
      // agent sends the snapshot first).
      for (const status of message.statuses) this.incoming.set(status.name, statusFromProto(status, this.host));
      if (message.initialComplete) this.becomeUp();
      return;
    }
    if (!message.status) return;
    const status = statusFromProto(message.status, this.host);
    if (message.kind === WatchEventKind.WATCH_EVENT_KIND_REMOVED) {
      this.statuses.delete(status.name);
      this.onEvent({ kind: 'removed', status });
    } else {
      this.statuses.set(status.name, status);
      this.onEvent({ kind: 'changed', status });
    }
  }

  private becomeUp(): void {
    const before = this.statuses;
    this.statuses = this.incoming;
    this.incoming = new Map();
    this.lost = undefined;
    this.#state = 'up';
    this.backoff.reset();
    // Whoever watches has either had nothing of this host yet or been told it was lost: each of
    // its streams now, and each it no longer has.
    for (const status of this.statuses.values()) this.onEvent({ kind: 'changed', status });
    for (const [name, status] of before) if (!this.statuses.has(name)) this.onEvent({ kind: 'removed', status });
    this.attempt.settle();
  }

  private fail(why: HostError): void {
    const wasUp = this.#state === 'up';
    this.#state = 'down';
    this.lost = why;
    if (wasUp) this.onEvent({ kind: 'hostLost', hostError: why });
    this.attempt.settle();
    if (!this.closed) this.retry = setTimeout(() => this.open(), this.backoff.next());
  }
}
