import { requiredRoleOf } from '../auth/index.js';
import type { StreamBackend } from '../core/backend.js';
import { parseSettle } from '../core/actionResult.js';
import { MAX_TAIL_LINES } from '../core/logLine.js';
import type { Action } from '../core/status.js';
import { parseHostChoice } from '../core/hostName.js';
import { parseStreamRef, parseTeam } from '../core/streamRef.js';
import { ActionStatus, type StreamServiceServer } from '../../gen/lit/stream/v1/stream.js';
import type { CallContext, CallPipeline, MethodSpec } from '../rpc/callPipeline.js';
import { scopeOf } from './callScope.js';
import { listRuns } from './listRuns.js';
import { logs } from './logs.js';
import { actionToProto, enablementToProto, hostErrorToProto, logLineToProto, statusToProto, summaryToProto } from './toProto.js';
import { watchStatus } from './watchStatus.js';

export const STREAM_SERVICE = 'lit.stream.v1.StreamService';

/** What every StreamService request names: a team, and (but ListStreams) a stream. */
interface StreamRequest {
  readonly team: string;
  readonly name?: string;
}

/**
 * Every StreamService RPC is decided per team (src/auth/roles.ts says which role it needs); its
 * log line names the team and stream; those that need `operator` change a stream and are audited
 * with the outcome they answered.
 */
function rpc(method: string): MethodSpec<StreamRequest> {
  return {
    service: STREAM_SERVICE,
    method,
    access: 'team',
    team: (request) => parseTeam(request.team),
    fields: streamFields,
    ...(requiredRoleOf(method) === 'operator' ? { audit: { outcome: actionOutcome } } : {}),
  };
}

/**
 * team and stream name of the request for the log line (as `stream`: pino's `name` is the logger's),
 * cut short: they are untrusted input.
 */
function streamFields({ team, name }: StreamRequest): { team: string; stream?: string } {
  return {
    team: team.slice(0, 64),
    ...(name ? { stream: name.slice(0, 64) } : {}),
  };
}

/**
 * SUCCESS or FAILURE, as the action reported it: every RPC that changes a stream (Start, Stop,
 * Restart, Enable, Disable) answers an ActionStatus `status`.
 */
function actionOutcome(response: unknown): string {
  const { status } = response as { status?: ActionStatus };
  return status === ActionStatus.ACTION_STATUS_SUCCESS ? 'SUCCESS' : 'FAILURE';
}

/** Start and Restart name a settle time; Stop does not. */
type ActionRequest = { team: string; name: string; settle?: { seconds: number; nanos: number }; host?: string };

/**
 * lit.stream.v1.StreamService over any StreamBackend: each handler validates its request, calls
 * the backend and maps the answer to proto.
 */
export function streamService(backend: StreamBackend, calls: CallPipeline): StreamServiceServer {
  const host = backend.host ?? '';
  const action = (name: Action) => async (request: ActionRequest, context: CallContext) => {
    const ref = parseStreamRef(request.team, request.name);
    const result = await backend.act(name, ref, { settleMs: parseSettle(request.settle), host: parseHostChoice(request.host) }, scopeOf(context));
    return actionToProto(result, host);
  };
  return {
    listStreams: calls.unary(rpc('ListStreams'), async (request, context) => {
      const page = await backend.list(parseTeam(request.team), { ...request, host: parseHostChoice(request.host) }, scopeOf(context));
      return {
        streams: page.items.map((summary) => summaryToProto(summary, host)),
        nextPageToken: page.nextPageToken,
        hostErrors: (page.hostErrors ?? []).map(hostErrorToProto),
      };
    }),
    start: calls.unary(rpc('Start'), action('start')),
    stop: calls.unary(rpc('Stop'), action('stop')),
    restart: calls.unary(rpc('Restart'), action('restart')),
    getStatus: calls.unary(rpc('GetStatus'), async (request, context) => {
      const ref = parseStreamRef(request.team, request.name);
      // The lines are what Logs sends: a caller whose role does not allow Logs gets the status alone.
      const asked = Math.min(request.logLines ?? 0, MAX_TAIL_LINES);
      const mayRead = asked === 0 || context.may('Logs');
      const options = { logLines: mayRead ? asked : 0, freshUsage: request.freshUsage ?? false, host: parseHostChoice(request.host) };
      const report = await backend.status(ref, options, scopeOf(context));
      const statusHost = report.status.host ?? host;
      const logsUnavailable = mayRead ? (report.logsUnavailable ?? '') : `log lines need the logs role for team '${ref.team}' (a reader sees the status only)`;
      return {
        status: statusToProto(report.status, host),
        logs: report.logs.map((line) => logLineToProto(line, statusHost)),
        logsUnavailable,
      };
    }),
    watchStatus: calls.serverStreaming(rpc('WatchStatus'), watchStatus(backend)),
    logs: calls.serverStreaming(rpc('Logs'), logs(backend)),
    listRuns: calls.unary(rpc('ListRuns'), listRuns(backend)),
    enable: calls.unary(rpc('Enable'), async (request, context) => {
      const ref = parseStreamRef(request.team, request.name);
      const options = { now: request.now ?? false, settleMs: parseSettle(request.settle), host: parseHostChoice(request.host) };
      return enablementToProto(await backend.enable(ref, options, scopeOf(context)), host);
    }),
    disable: calls.unary(rpc('Disable'), async (request, context) => {
      const ref = parseStreamRef(request.team, request.name);
      // A DisableResponse is an EnableResponse without logs (a Stop's answer has none).
      const options = { now: request.now ?? false, host: parseHostChoice(request.host) };
      return enablementToProto(await backend.disable(ref, options, scopeOf(context)), host);
    }),
  };
}
