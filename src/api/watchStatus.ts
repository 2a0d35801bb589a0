import type { StreamBackend } from '../core/backend.js';
import { untilAborted } from '../core/abortable.js';
import { parseHostChoice } from '../core/hostName.js';
import { parseStreamName, parseTeam } from '../core/streamRef.js';
import type { WatchStatusRequest, WatchStatusResponse } from '../../gen/lit/stream/v1/stream.js';
import type { CallContext, ServerStreamingHandler } from '../rpc/callPipeline.js';
import { scopeOf } from './callScope.js';
import { CoalescingQueue } from './coalescingQueue.js';
import { encodeBatch, encodeHostLost, encodeStatus } from './watchEncoding.js';

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
    const host = backend.host ?? '';
    const queue = new CoalescingQueue();
    // Held only until sent: a long-lived watch keeps nothing per stream beyond its queue.
    let { initial, stop } = await openWatch(backend, team, { name, host: parseHostChoice(request.host) }, queue, context);
    try {
      if (request.batchInitial) {
        // Changes meanwhile wait in the queue and follow the snapshot as CHANGED.
        for (let from = 0; from === 0 || from < initial.length; from += INITIAL_BATCH) {
          const last = from + INITIAL_BATCH >= initial.length;
          yield encodeBatch(initial.slice(from, from + INITIAL_BATCH), last, host);
        }
      } else {
        for (const status of initial) queue.push({ kind: 'initial', status });
      }
      initial = [];
      for (;;) {
        const message = await queue.next(signal);
        yield message.kind === 'hostLost' ? encodeHostLost(message.hostError) : encodeStatus(message.kind, message.status, host);
      }
    } finally {
      stop();
    }
  };
}

/** backend.watch(), given up (and its listener removed) if the call ends first. */
async function openWatch(backend: StreamBackend, team: string, options: { name?: string; host?: string }, queue: CoalescingQueue, context: CallContext) {
  const opening = backend.watch(team, options, (event) => queue.push(event), scopeOf(context));
  try {
    return await untilAborted(opening, context.signal);
  } catch (error) {
    // Gone before the view answered: stop the listener it will have added by then.
    opening.then((late) => late.stop(), () => undefined);
    throw error;
  }
}

/**
 * Streams per batched INITIAL message: about 30 KB each, so a watcher holds at most a batch or
 * two in its HTTP/2 buffers however many streams the team has, and a thousand streams are four
 * messages instead of a thousand.
 */
export const INITIAL_BATCH = 256;
