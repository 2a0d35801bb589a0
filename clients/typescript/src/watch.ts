import type { ClientReadableStream } from '@grpc/grpc-js';
import { WatchEventKind, type WatchStatusResponse } from './gen/lit/stream/v1/stream.js';
import { LitStreamError } from './errors.js';
import { type ServiceStatus, toServiceStatus } from './service.js';

/** One report of a watch: the stream's status when the watch began, a change, or its removal. */
export interface StreamEvent {
  readonly kind: 'INITIAL' | 'CHANGED' | 'REMOVED';
  /** As `Stream.status()` reports it, except tasks and memory (null: measured, not signalled). */
  readonly status: ServiceStatus;
}

const KIND_NAMES: Record<number, StreamEvent['kind']> = {
  [WatchEventKind.WATCH_EVENT_KIND_INITIAL]: 'INITIAL',
  [WatchEventKind.WATCH_EVENT_KIND_CHANGED]: 'CHANGED',
  [WatchEventKind.WATCH_EVENT_KIND_REMOVED]: 'REMOVED',
};

/**
 * A WatchStatus call as an async iterable. `open` runs at the first `next()`, not before: a
 * generator's body starts only then, and one that is never iterated, or `return()`ed first, never
 * runs it, so it holds no call and no watcher on the server. Leaving the `for await` loop (break,
 * return, throw) cancels the call; a failed call throws LitStreamError.
 */
export async function* streamEvents(
  open: () => ClientReadableStream<WatchStatusResponse>,
  onHostLost?: (lost: { readonly host: string; readonly error: LitStreamError }) => void,
): AsyncGenerator<StreamEvent> {
  const call = open();
  try {
    for await (const response of call as AsyncIterable<WatchStatusResponse>) {
      if (!response.status) {
        // A fleet gateway's host stopped answering: its streams' statuses are no longer current.
        if (response.hostError) onHostLost?.({ host: response.hostError.host, error: new LitStreamError(response.hostError.code, response.hostError.message) });
        continue;
      }
      yield { kind: KIND_NAMES[response.kind] ?? 'CHANGED', status: toServiceStatus(response.status) };
    }
  } catch (error) {
    throw LitStreamError.from(error as Parameters<typeof LitStreamError.from>[0]);
  } finally {
    call.cancel();
  }
}
