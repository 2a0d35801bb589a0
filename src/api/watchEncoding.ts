import type { HostError } from '../core/backend.js';
import type { StreamStatus } from '../core/status.js';
import { WatchEventKind, WatchStatusResponse } from '../../gen/lit/stream/v1/stream.js';
import type { WatchMessageKind } from './coalescingQueue.js';
import { hostErrorToProto, statusToProto } from './toProto.js';

const KINDS: Readonly<Record<WatchMessageKind, WatchEventKind>> = {
  initial: WatchEventKind.WATCH_EVENT_KIND_INITIAL,
  changed: WatchEventKind.WATCH_EVENT_KIND_CHANGED,
  removed: WatchEventKind.WATCH_EVENT_KIND_REMOVED,
};

/**
 * Encoded messages, per change and kind. The backend hands every watcher the same status object, so
 * a change is converted and encoded once however many watchers there are; grpc-js then writes the
 * bytes as they are (see streamServiceDefinition). `host` is the backend's (StreamBackend.host),
 * the same for every status object it hands out, for statuses that do not name their own.
 */
const encoded = new WeakMap<StreamStatus, Partial<Record<WatchMessageKind, Buffer>>>();

/** One stream's WatchStatusResponse, encoded. */
export function encodeStatus(kind: WatchMessageKind, status: StreamStatus, host = ''): Buffer {
  let byKind = encoded.get(status);
  if (!byKind) encoded.set(status, (byKind = {}));
  return (byKind[kind] ??= encodeResponse({ kind: KINDS[kind], status: statusToProto(status, host) }));
}

/** A host of the fleet stopped answering: what was said of its streams is no longer current. */
export function encodeHostLost(hostError: HostError): Buffer {
  return encodeResponse({ hostError: hostErrorToProto(hostError) });
}

/**
 * The last batch encoded per first status. Watchers that open while nothing changes get the very
 * same status objects from the view, so they share each batch's encoding; one entry per first
 * status bounds what is kept when statuses further down keep changing.
 */
const encodedBatches = new WeakMap<StreamStatus, { statuses: readonly StreamStatus[]; last: boolean; bytes: Buffer }>();
const EMPTY_SNAPSHOT = encodeResponse({ kind: KINDS.initial, initialComplete: true });

/** A batched INITIAL WatchStatusResponse, encoded; `last` marks the snapshot complete. */
export function encodeBatch(statuses: readonly StreamStatus[], last: boolean, host = ''): Buffer {
  const first = statuses[0];
  if (!first) return EMPTY_SNAPSHOT;
  const known = encodedBatches.get(first);
  if (known && known.last === last && known.statuses.length === statuses.length && known.statuses.every((s, i) => s === statuses[i])) {
    return known.bytes;
  }
  const bytes = encodeResponse({ kind: KINDS.initial, statuses: statuses.map((status) => statusToProto(status, host)), initialComplete: last });
  encodedBatches.set(first, { statuses, last, bytes });
  return bytes;
}

function encodeResponse(response: Partial<WatchStatusResponse>): Buffer {
  return Buffer.from(WatchStatusResponse.encode(WatchStatusResponse.fromPartial(response)).finish());
}
