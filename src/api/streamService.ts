import type { StreamBackend } from '../core/backend.js';
import { parseSettle } from '../core/actionResult.js';
import { UnimplementedError } from '../core/errors.js';
import { MAX_TAIL_LINES } from '../core/logLine.js';
import type { Action } from '../core/status.js';
import { parseStreamRef, parseTeam } from '../core/streamRef.js';
import type { StreamServiceServer } from '../../gen/lit/stream/v1/stream.js';
import type { CallContext, CallPipeline, MethodSpec } from '../rpc/callPipeline.js';
import { scopeOf } from './callScope.js';
import { logs } from './logs.js';
import { actionToProto, logLineToProto, statusToProto, summaryToProto } from './toProto.js';
import { watchStatus } from './watchStatus.js';

export const STREAM_SERVICE = 'lit.stream.v1.StreamService';

/** Every StreamService RPC is decided per team (src/auth/roles.ts says which role it needs). */
const rpc = (method: string): MethodSpec => ({ service: STREAM_SERVICE, method, access: 'team' });

/** Start and Restart name a settle time; Stop does not. */
type ActionRequest = { team: string; name: string; settle?: { seconds: number; nanos: number } };

/**
 * lit.stream.v1.StreamService over any StreamBackend: each handler validates its request, calls
 * the backend and maps the answer to proto.
 */
export function streamService(backend: StreamBackend, calls: CallPipeline): StreamServiceServer {
  const action = (name: Action) => async (request: ActionRequest, context: CallContext) =>
    actionToProto(await backend.act(name, parseStreamRef(request.team, request.name), { settleMs: parseSettle(request.settle) }, scopeOf(context)));
  return {
    listStreams: calls.unary(rpc('ListStreams'), async (request, context) => {
      const page = await backend.list(parseTeam(request.team), request, scopeOf(context));
      return { streams: page.items.map(summaryToProto), nextPageToken: page.nextPageToken, hostErrors: [] };
    }),
    start: calls.unary(rpc('Start'), action('start')),
    stop: calls.unary(rpc('Stop'), action('stop')),
    restart: calls.unary(rpc('Restart'), action('restart')),
    getStatus: calls.unary(rpc('GetStatus'), async (request, context) => {
      const ref = parseStreamRef(request.team, request.name);
      const report = await backend.status(ref, { logLines: Math.min(request.logLines ?? 0, MAX_TAIL_LINES) }, scopeOf(context));
      return { status: statusToProto(report.status), logs: report.logs.map(logLineToProto), logsUnavailable: report.logsUnavailable ?? '' };
    }),
    watchStatus: calls.serverStreaming(rpc('WatchStatus'), watchStatus(backend)),
    logs: calls.serverStreaming(rpc('Logs'), logs(backend)),
    listRuns: calls.unary(rpc('ListRuns'), () => Promise.reject(new UnimplementedError('ListRuns is not implemented yet'))),
    enable: calls.unary(rpc('Enable'), () => Promise.reject(new UnimplementedError('Enable is not implemented yet'))),
    disable: calls.unary(rpc('Disable'), () => Promise.reject(new UnimplementedError('Disable is not implemented yet'))),
  };
}
