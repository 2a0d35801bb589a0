import type { StreamController } from '../control/streamController.js';
import type { StreamLogs } from '../control/streamLogs.js';
import type { StreamView } from '../control/streamView.js';
import { parseSettle } from '../core/actionResult.js';
import { MAX_TAIL_LINES } from '../core/logLine.js';
import { parseStreamRef } from '../core/streamRef.js';
import type { StreamServiceServer } from '../../gen/lit/stream/v1/stream.js';
import type { CallPipeline, MethodSpec } from './callPipeline.js';
import { actionToProto, logLineToProto, statusToProto, summaryToProto } from './toProto.js';
import { logs } from './logs.js';
import { watchStatus } from './watchStatus.js';

export const STREAM_SERVICE = 'lit.stream.v1.StreamService';

/** Every StreamService RPC is decided per team (src/auth/roles.ts says which role it needs). */
const rpc = (method: string): MethodSpec => ({ service: STREAM_SERVICE, method, access: 'team' });

/** lit.stream.v1.StreamService: each handler validates, calls the controller, maps to proto. */
export function streamService(controller: StreamController, view: StreamView, streamLogs: StreamLogs, calls: CallPipeline): StreamServiceServer {
  return {
    listStreams: calls.unary(rpc('ListStreams'), async (request) => {
      const page = await controller.list(request.team, request);
      return { streams: page.items.map(summaryToProto), nextPageToken: page.nextPageToken };
    }),
    start: calls.unary(rpc('Start'), async (request, context) =>
      actionToProto(await controller.start(parseStreamRef(request.team, request.name), { ...context, settleMs: parseSettle(request.settle) })),
    ),
    stop: calls.unary(rpc('Stop'), async (request, context) =>
      actionToProto(await controller.stop(parseStreamRef(request.team, request.name), context)),
    ),
    restart: calls.unary(rpc('Restart'), async (request, context) =>
      actionToProto(await controller.restart(parseStreamRef(request.team, request.name), { ...context, settleMs: parseSettle(request.settle) })),
    ),
    getStatus: calls.unary(rpc('GetStatus'), async (request, context) => {
      const ref = parseStreamRef(request.team, request.name);
      const status = statusToProto(await controller.status(ref));
      const logs = await controller.recentLogs(ref, Math.min(request.logLines ?? 0, MAX_TAIL_LINES), context.signal);
      return { status, logs: logs.lines.map(logLineToProto), logsUnavailable: logs.unavailable ?? '' };
    }),
    watchStatus: calls.serverStreaming(rpc('WatchStatus'), watchStatus(view)),
    logs: calls.serverStreaming(rpc('Logs'), logs(streamLogs)),
  };
}
