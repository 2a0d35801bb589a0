import type { StreamBackend } from '../core/backend.js';
import { parseHostChoice } from '../core/hostName.js';
import { DEFAULT_RUNS, MAX_RUNS } from '../core/run.js';
import { parseStreamRef } from '../core/streamRef.js';
import type { ListRunsRequest, ListRunsResponse } from '../../gen/lit/stream/v1/stream.js';
import type { UnaryHandler } from '../rpc/callPipeline.js';
import { scopeOf } from './callScope.js';
import { runToProto } from './toProto.js';

/** ListRuns: the stream's recent runs, newest first; `limit` 0 (or absent) means 10, more than 100 is 100. */
export function listRuns(backend: StreamBackend): UnaryHandler<ListRunsRequest, ListRunsResponse> {
  return async (request, context) => {
    const ref = parseStreamRef(request.team, request.name);
    const limit = Math.min(request.limit || DEFAULT_RUNS, MAX_RUNS);
    const runs = await backend.runs(ref, { limit, host: parseHostChoice(request.host) }, scopeOf(context));
    return { runs: runs.map((run) => runToProto(run, backend.host)) };
  };
}
