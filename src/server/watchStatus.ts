import type { StreamView } from '../control/streamView.js';
import { untilAborted } from '../core/abortable.js';
import type { StreamStatus as CoreStatus } from '../core/status.js';
import { parseStreamName, parseTeam } from '../core/streamRef.js';
import {
  StreamServiceService,
  WatchEventKind,
  type WatchStatusRequest,
  WatchStatusResponse,
} from '../../gen/lit/stream/v1/stream.js';
import type { ServerStreamingHandler } from './callPipeline.js';
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
 * WatchStatus: the initial status of each matching stream, then one message per change, in order.
 * All watchers share the server's one D-Bus subscription (StreamView). The call pipeline pulls the
 * next message only when the client has taken the last one, so a slow watcher's changes wait in
 * its CoalescingQueue: at most one message per stream, never unbounded memory.
 */
export function watchStatus(view: StreamView): ServerStreamingHandler<WatchStatusRequest, WatchStatusResponse> {
  return async function* (request, { signal }) {
    const team = parseTeam(request.team);
    const name = request.name === '' ? undefined : parseStreamName(request.name);
    const queue = new CoalescingQueue();
    const opening = view.watch(team, name, (change) => queue.push(change));
    let watch;
    try {
      watch = await untilAborted(opening, signal);
    } catch (error) {
      // Gone before the view answered: stop the listener it will have added by then.
      opening.then((late) => late.stop(), () => undefined);
      throw error;
    }
    try {
      for (const status of watch.initial) queue.push({ kind: 'initial', status });
      for (;;) {
        const { kind, status } = await queue.next(signal);
        yield encode(kind, status);
      }
    } finally {
      watch.stop();
    }
  };
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
