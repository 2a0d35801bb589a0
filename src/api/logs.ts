import type { StreamBackend } from '../core/backend.js';
import { parseHostChoice } from '../core/hostName.js';
import { parseStreamRef } from '../core/streamRef.js';
import type { LogsRequest, LogsResponse } from '../../gen/lit/stream/v1/stream.js';
import type { ServerStreamingHandler } from '../rpc/callPipeline.js';
import { scopeOf } from './callScope.js';
import { sinceOf } from './logsRequest.js';
import { logLineToProto } from './toProto.js';

/**
 * Logs: the stream's lines from the journal, in batches, then (with `follow`) new ones as they
 * come. The call pipeline pulls the next batch only when the client has taken the last one.
 */
export function logs(backend: StreamBackend): ServerStreamingHandler<LogsRequest, LogsResponse> {
  return async function* (request, context) {
    const ref = parseStreamRef(request.team, request.name);
    const batches = backend.logs(
      ref,
      {
        tailLines: request.tailLines,
        sinceUsec: sinceOf(request.since),
        afterCursor: request.afterCursor,
        follow: request.follow,
        host: parseHostChoice(request.host),
      },
      scopeOf(context),
    );
    const host = backend.host ?? '';
    for await (const batch of batches) {
      yield { entries: batch.lines.map((line) => logLineToProto(line, host)), droppedLines: batch.dropped };
    }
  };
}
