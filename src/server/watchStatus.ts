import { type handleServerStreamingCall, type ServerWritableStream, status } from '@grpc/grpc-js';
import type { StreamChange, StreamView } from '../control/streamView.js';
import { parseStreamName, parseTeam } from '../core/streamRef.js';
import type { StreamStatus as CoreStatus } from '../core/status.js';
import {
  WatchEventKind,
  type WatchStatusRequest,
  type WatchStatusResponse,
} from '../../gen/lit/stream/v1/stream.js';
import type { Caller } from './accessControl.js';
import { toGrpcStatus } from './grpcStatus.js';
import { statusToProto } from './toProto.js';
import { type CallPolicy, identify, STATUS_NAMES } from './unaryCall.js';

type WatchCall = ServerWritableStream<WatchStatusRequest, WatchStatusResponse>;

/**
 * WatchStatus: the initial status of each matching stream, then one message per change, in order.
 * All watchers share the server's one D-Bus subscription (StreamView); each gets its own writer.
 */
export function watchStatus(
  view: StreamView,
  { log, access }: CallPolicy,
  /** The open watch calls, so a graceful shutdown can end them (they never end by themselves). */
  open: Set<{ end(): void }>,
): handleServerStreamingCall<WatchStatusRequest, WatchStatusResponse> {
  return (call: WatchCall) => {
    const startedAt = performance.now();
    let caller: Caller | undefined;
    open.add(call);
    call.once('finish', () => open.delete(call));
    let stop: (() => void) | undefined;
    const finish = (code: status, details?: string) => {
      open.delete(call);
      stop?.();
      stop = undefined;
      const durationMs = Math.round(performance.now() - startedAt);
      log.info({ method: 'WatchStatus', ...identify(call.request), identity: caller?.label, code: STATUS_NAMES[code], durationMs, ...(details ? { details } : {}) }, 'rpc');
    };
    call.on('cancelled', () => finish(status.CANCELLED));
    void (async () => {
      // Watches are long-lived: they are authorized like reads but not counted against the
      // per-identity limit on concurrent unary calls.
      caller = access.authenticate(call);
      const team = parseTeam(call.request.team);
      access.authorize(caller, team, 'WatchStatus');
      const name = call.request.name === '' ? undefined : parseStreamName(call.request.name);
      const writer = new CoalescingWriter(call);
      const watch = await view.watch(team, name, (change) => writer.send(change));
      if (call.cancelled) return watch.stop();
      stop = watch.stop;
      for (const initial of watch.initial) writer.send({ kind: 'initial', status: initial });
    })().catch((error: unknown) => {
      const grpcStatus = toGrpcStatus(error);
      finish(grpcStatus.code, grpcStatus.details);
      call.emit('error', grpcStatus);
    });
  };
}

const KINDS = {
  initial: WatchEventKind.WATCH_EVENT_KIND_INITIAL,
  changed: WatchEventKind.WATCH_EVENT_KIND_CHANGED,
  removed: WatchEventKind.WATCH_EVENT_KIND_REMOVED,
} as const;

/**
 * Writes watch messages in order while the client keeps up. When it does not (grpc-js buffers
 * past its high-water mark and write() returns false), it keeps only the latest message per
 * stream until 'drain', so a slow watcher costs at most one pending message per stream, never
 * unbounded memory. Coalescing is documented in the proto (WatchStatus).
 */
export class CoalescingWriter {
  private readonly pending = new Map<string, WatchStatusResponse>();
  private blocked = false;

  constructor(private readonly call: WatchCall) {}

  send(change: { kind: StreamChange['kind'] | 'initial'; status: CoreStatus }): void {
    if (this.call.cancelled || this.call.writableEnded) return;
    const message: WatchStatusResponse = { kind: KINDS[change.kind], status: statusToProto(change.status) };
    if (this.blocked) {
      // Re-insert so the Map's order is the order of each stream's latest change.
      this.pending.delete(change.status.name);
      this.pending.set(change.status.name, message);
      return;
    }
    this.write(message);
  }

  /** Messages held back for a slow client (for tests and diagnostics). */
  get held(): number {
    return this.pending.size;
  }

  private write(message: WatchStatusResponse): void {
    if (!this.call.write(message)) {
      this.blocked = true;
      this.call.once('drain', () => this.flush());
    }
  }

  private flush(): void {
    this.blocked = false;
    const messages = [...this.pending.values()];
    this.pending.clear();
    for (const [index, message] of messages.entries()) {
      this.write(message);
      if (this.blocked) {
        for (const rest of messages.slice(index + 1)) this.pending.set(rest.status!.name, rest);
        return;
      }
    }
  }
}
