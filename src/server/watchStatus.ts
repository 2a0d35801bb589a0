import { type handleServerStreamingCall, type ServerWritableStream, status } from '@grpc/grpc-js';
import type { StreamView } from '../control/streamView.js';
import { parseStreamName, parseTeam } from '../core/streamRef.js';
import type { StreamStatus as CoreStatus } from '../core/status.js';
import {
  StreamServiceService,
  WatchEventKind,
  type WatchStatusRequest,
  WatchStatusResponse,
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

type Kind = keyof typeof KINDS;

/**
 * Encoded messages, per change and kind. StreamView hands every watcher the same change object, so
 * a change is converted and encoded once however many watchers there are; grpc-js then writes the
 * bytes as they are (see streamServiceDefinition).
 */
const encoded = new WeakMap<CoreStatus, Partial<Record<Kind, Buffer>>>();

function encode(kind: Kind, status: CoreStatus): Buffer {
  let byKind = encoded.get(status);
  if (!byKind) encoded.set(status, (byKind = {}));
  return (byKind[kind] ??= Buffer.from(WatchStatusResponse.encode({ kind: KINDS[kind], status: statusToProto(status) }).finish()));
}

/**
 * The generated StreamService definition, except that WatchStatus also accepts messages already
 * encoded (a Buffer) and sends them unchanged.
 */
export function streamServiceDefinition(): typeof StreamServiceService {
  const watch = StreamServiceService.watchStatus;
  return {
    ...StreamServiceService,
    watchStatus: {
      ...watch,
      responseSerialize: (value: WatchStatusResponse | Buffer): Buffer =>
        Buffer.isBuffer(value) ? value : watch.responseSerialize(value),
    },
  };
}

/**
 * Writes watch messages in order while the client keeps up. When it does not (grpc-js buffers
 * past its high-water mark and write() returns false), it keeps only the latest message per
 * stream until 'drain', so a slow watcher costs at most one pending message per stream, never
 * unbounded memory. A stream's first message keeps the kind INITIAL even when a change overtook
 * it. Coalescing is documented in the proto (WatchStatus).
 */
export class CoalescingWriter {
  private readonly pending = new Map<string, { kind: Kind; status: CoreStatus }>();
  private blocked = false;

  constructor(private readonly call: WatchCall) {}

  send(change: { kind: Kind; status: CoreStatus }): void {
    if (this.call.cancelled || this.call.writableEnded) return;
    if (!this.blocked) return this.write(change);
    const name = change.status.name;
    const kind = this.pending.get(name)?.kind === 'initial' && change.kind === 'changed' ? 'initial' : change.kind;
    // Delete, then set: the Map's order is the order of each stream's latest change.
    this.pending.delete(name);
    this.pending.set(name, { kind, status: change.status });
  }

  /** Messages held back for a slow client (for tests and diagnostics). */
  get held(): number {
    return this.pending.size;
  }

  private write({ kind, status }: { kind: Kind; status: CoreStatus }): void {
    if (!this.call.write(encode(kind, status) as unknown as WatchStatusResponse)) {
      this.blocked = true;
      this.call.once('drain', () => this.flush());
    }
  }

  private flush(): void {
    this.blocked = false;
    // Take messages off the front as they are written: whatever is left when the client stalls
    // again simply stays pending, in order (no copying, so a long backlog costs O(n) in all).
    for (const [name, message] of this.pending) {
      this.pending.delete(name);
      this.write(message);
      if (this.blocked) return;
    }
  }
}
