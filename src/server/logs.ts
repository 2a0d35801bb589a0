import type { StreamLogs } from '../control/streamLogs.js';
import { parseStreamRef } from '../core/streamRef.js';
import type { LogsRequest, LogsResponse } from '../../gen/lit/stream/v1/stream.js';
import type { ServerStreamingHandler } from './callPipeline.js';
import { logLineToProto } from './toProto.js';

/**
 * Logs: the stream's lines from the journal, in batches, then (with `follow`) new ones as they
 * come. The call pipeline pulls the next batch only when the client has taken the last one; while
 * following, lines wait in the call's bounded share of the unit's one journalctl (FollowReader).
 */
export function logs(streamLogs: StreamLogs): ServerStreamingHandler<LogsRequest, LogsResponse> {
  return async function* (request, { signal }) {
    const ref = parseStreamRef(request.team, request.name);
    const batches = streamLogs.read(ref, {
      tailLines: request.tailLines,
      sinceUsec: request.since === undefined ? undefined : BigInt(request.since.getTime()) * 1000n,
      afterCursor: request.afterCursor,
      follow: request.follow,
      signal,
    });
    for await (const batch of batches) yield { entries: batch.lines.map(logLineToProto), droppedLines: batch.dropped };
  };
}
