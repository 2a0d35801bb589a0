import { type handleUnaryCall, type ServerUnaryCall, status } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { requiredRoleOf } from '../auth/index.js';
import { CancelledError, DeadlineExceededError } from '../core/errors.js';
import { parseTeam } from '../core/streamRef.js';
import type { WaitOptions } from '../systemd/jobs.js';
import type { AccessControl, Caller } from './accessControl.js';
import { ActionStatus } from '../../gen/lit/stream/v1/stream.js';
import { toGrpcStatus } from './grpcStatus.js';

/** What a handler knows about its call besides the request. */
export type CallContext = Required<Pick<WaitOptions, 'signal'>> & Pick<WaitOptions, 'deadline'>;

export type UnaryHandler<Req, Res> = (request: Req, context: CallContext) => Promise<Res>;

/** What every RPC goes through before its handler. */
export interface CallPolicy {
  readonly log: Logger;
  readonly access: AccessControl;
}

export const STATUS_NAMES = Object.fromEntries(Object.entries(status).map(([name, code]) => [code, name])) as Record<
  number,
  string
>;

/**
 * Adapts a promise-returning handler to grpc-js and adds what every RPC gets, in this order:
 * authentication, the per-identity concurrency limit, authorization for the request's team (all
 * before the handler can reach systemd), the caller's deadline and cancellation as WaitOptions,
 * the one error-to-status mapping, one log line per call (method, team, stream, identity, gRPC
 * code, duration) and, for RPCs that change a stream, one audit line (`audit: true`).
 */
export function unaryCall<Req extends { team: string }, Res>(
  method: string,
  { log, access }: CallPolicy,
  handler: UnaryHandler<Req, Res>,
): handleUnaryCall<Req, Res> {
  const mutating = requiredRoleOf(method) !== 'reader';
  return (call: ServerUnaryCall<Req, Res>, callback) => {
    const startedAt = performance.now();
    const callDeadline = call.getDeadline();
    const deadline =
      callDeadline instanceof Date ? callDeadline.getTime() : Number.isFinite(callDeadline) ? callDeadline : undefined;
    const abort = new AbortController();
    // grpc-js cancels the call itself when the deadline passes, possibly before our own timer
    // fires: tell the two cases apart so the log says DEADLINE_EXCEEDED, not CANCELLED.
    call.on('cancelled', () =>
      abort.abort(
        deadline !== undefined && Date.now() >= deadline
          ? new DeadlineExceededError(`the deadline passed while ${method} was waiting on systemd`)
          : new CancelledError(`the caller cancelled ${method} while it was waiting on systemd`),
      ),
    );
    let caller: Caller | undefined;
    let release: (() => void) | undefined;
    const finish = (code: status, details: string | undefined, response: unknown) => {
      release?.();
      const fields = {
        method,
        ...identify(call.request),
        identity: caller?.label,
        code: STATUS_NAMES[code],
        durationMs: Math.round((performance.now() - startedAt) * 1000) / 1000,
      };
      if (code === status.INTERNAL || code === status.UNAVAILABLE) log.warn({ ...fields, details }, 'rpc');
      else log.info(details ? { ...fields, details } : fields, 'rpc');
      if (mutating) log.info({ audit: true, ...fields, outcome: outcomeOf(code, response) }, 'audit');
    };
    const run = async () => {
      caller = access.authenticate(call);
      release = access.admit(caller);
      access.authorize(caller, parseTeam(call.request.team), method);
      return handler(call.request, { signal: abort.signal, deadline });
    };
    run().then(
      (response) => {
        finish(status.OK, undefined, response);
        callback(null, response);
      },
      (error: unknown) => {
        const grpcStatus = toGrpcStatus(error);
        finish(grpcStatus.code, grpcStatus.details, undefined);
        callback(grpcStatus);
      },
    );
  };
}

/** SUCCESS or FAILURE as the action reported it; REFUSED or ERROR when it never ran to the end. */
function outcomeOf(code: status, response: unknown): string {
  if (code === status.OK) {
    const actionStatus = (response as { status?: number } | undefined)?.status;
    return actionStatus === ActionStatus.ACTION_STATUS_SUCCESS ? 'SUCCESS' : 'FAILURE';
  }
  const refused = [status.UNAUTHENTICATED, status.PERMISSION_DENIED, status.INVALID_ARGUMENT, status.NOT_FOUND, status.FAILED_PRECONDITION, status.RESOURCE_EXHAUSTED];
  return refused.includes(code) ? 'REFUSED' : 'ERROR';
}

/**
 * team and stream name of the request for the log line (as `stream`: pino's `name` is the logger's),
 * cut short: they are untrusted input.
 */
export function identify(request: object): { team?: string; stream?: string } {
  const { team, name } = request as { team?: unknown; name?: unknown };
  return {
    ...(typeof team === 'string' ? { team: team.slice(0, 64) } : {}),
    ...(typeof name === 'string' && name !== '' ? { stream: name.slice(0, 64) } : {}),
  };
}
