import type { StreamBackend } from '../core/backend.js';
import { untilAborted } from '../core/abortable.js';
import type { StreamStatus as CoreStatus } from '../core/status.js';
import { parseStreamName, parseTeam } from '../core/streamRef.js';
import {
  StreamServiceService,
  WatchEventKind,
  type WatchStatusRequest,
  WatchStatusResponse,
} from '../../gen/lit/stream/v1/stream.js';
import type { CallContext, ServerStreamingHandler } from '../rpc/callPipeline.js';
import { scopeOf } from './callScope.js';
import { statusToProto } from './toProto.js';

const KINDS = {
  initial: WatchEventKind.WATCH_EVENT_KIND_INITIAL,
  changed: WatchEventKind.WATCH_EVENT_KIND_CHANGED,
  removed: WatchEventKind.WATCH_EVENT_KIND_REMOVED,
} as const;

type Kind = keyof typeof KINDS;

export interface WatchMessage {
  readonly kind: Kind;
  readonly status: CoreStatus;
}

/**
 * WatchStatus: the initial status of each matching stream (in batches of INITIAL_BATCH when the
 * watcher asked for `batch_initial`, else one message each), then one message per change, in
 * order. All watchers share the server's one D-Bus subscription (StreamView). The call pipeline
 * pulls the next message only when the client has taken the last one, so a slow watcher's changes
 * wait in its CoalescingQueue: at most one message per stream, never unbounded memory.
 */
export function watchStatus(backend: StreamBackend): ServerStreamingHandler<WatchStatusRequest, WatchStatusResponse> {
  return async function* (request, context) {
    const { signal } = context;
    const team = parseTeam(request.team);
    const name = request.name === '' ? undefined : parseStreamName(request.name);
    const queue = new CoalescingQueue();
    // Held only until sent: a long-lived watch keeps nothing per stream beyond its queue.
    let { initial, stop } = await openWatch(backend, team, name, queue, context);
    try {
      if (request.batchInitial) {
        // Changes meanwhile wait in the queue and follow the snapshot as CHANGED.
        for (let from = 0; from === 0 || from < initial.length; from += INITIAL_BATCH) {
          const last = from + INITIAL_BATCH >= initial.length;
          yield encodeBatch(initial.slice(from, from + INITIAL_BATCH), last);
        }
      } else {
        for (const status of initial) queue.push({ kind: 'initial', status });
      }
      initial = [];
      for (;;) {
        const { kind, status } = await queue.next(signal);
        yield encode(kind, status);
      }
    } finally {
      stop();
    }
  };
}

/** backend.watch(), given up (and its listener removed) if the call ends first. */
async function openWatch(backend: StreamBackend, team: string, name: string | undefined, queue: CoalescingQueue, context: CallContext) {
  const opening = backend.watch(team, name, (change) => queue.push(change), scopeOf(context));
  try {
    return await untilAborted(opening, context.signal);
  } catch (error) {
    // Gone before the view answered: stop the listener it will have added by then.
    opening.then((late) => late.stop(), () => undefined);
    throw error;
  }
}

/**
 * Encoded messages, per change and kind. StreamView hands every watcher the same status object, so
 * a change is converted and encoded once however many watchers there are; grpc-js then writes the
 * bytes as they are (see streamServiceDefinition).
 */
const encoded = new WeakMap<CoreStatus, Partial<Record<Kind, Buffer>>>();

function encode(kind: Kind, status: CoreStatus): Buffer {
  let byKind = encoded.get(status);
  if (!byKind) encoded.set(status, (byKind = {}));
  return (byKind[kind] ??= encodeResponse({ kind: KINDS[kind], status: statusToProto(status) }));
}

/**
 * Streams per batched INITIAL message: about 30 KB each, so a watcher holds at most a batch or
 * two in its HTTP/2 buffers however many streams the team has, and a thousand streams are four
 * messages instead of a thousand.
 */
export const INITIAL_BATCH = 256;

/**
 * The last batch encoded per first status. Watchers that open while nothing changes get the very
 * same status objects from the view, so they share each batch's encoding; one entry per first
 * status bounds what is kept when statuses further down keep changing.
 */
const encodedBatches = new WeakMap<CoreStatus, { statuses: readonly CoreStatus[]; last: boolean; bytes: Buffer }>();
const EMPTY_SNAPSHOT = encodeResponse({ kind: KINDS.initial, initialComplete: true });

function encodeBatch(statuses: readonly CoreStatus[], last: boolean): Buffer {
  const first = statuses[0];
  if (!first) return EMPTY_SNAPSHOT;
  const known = encodedBatches.get(first);
  if (known && known.last === last && known.statuses.length === statuses.length && known.statuses.every((s, i) => s === statuses[i])) {
    return known.bytes;
  }
  const bytes = encodeResponse({ kind: KINDS.initial, statuses: statuses.map(statusToProto), initialComplete: last });
  encodedBatches.set(first, { statuses, last, bytes });
  return bytes;
}

function encodeResponse(response: Partial<WatchStatusResponse>): Buffer {
  return Buffer.from(WatchStatusResponse.encode(WatchStatusResponse.fromPartial(response)).finish());
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
 * The messages a watcher has not taken yet, at most one per stream: a newer status of a stream
 * replaces the one waiting, so a watcher that reads slower than changes come gets each stream's
 * latest status rather than every intermediate one. A stream's first message keeps the kind
 * INITIAL even when a change overtook it. Coalescing is documented in the proto (WatchStatus).
 */
export class CoalescingQueue {
  private readonly pending = new Map<string, { kind: Kind; status: CoreStatus }>();
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
