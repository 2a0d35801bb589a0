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
 * Turns a WatchStatus call into an async iterable. Leaving the `for await` loop (break, return,
 * throw) cancels the call on the server; a failed call throws LitStreamError.
 */
export async function* streamEvents(call: ClientReadableStream<WatchStatusResponse>): AsyncGenerator<StreamEvent> {
  try {
    for await (const response of call as AsyncIterable<WatchStatusResponse>) {
      if (!response.status) continue;
      yield { kind: KIND_NAMES[response.kind] ?? 'CHANGED', status: toServiceStatus(response.status) };
    }
  } catch (error) {
    throw LitStreamError.from(error as Parameters<typeof LitStreamError.from>[0]);
  } finally {
    call.cancel();
  }
}
