import { type handleUnaryCall, type ServerUnaryCall, status } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { CancelledError, DeadlineExceededError } from '../core/errors.js';
import type { WaitOptions } from '../systemd/jobs.js';
import { toGrpcStatus } from './grpcStatus.js';

/** What a handler knows about its call besides the request. */
export type CallContext = Required<Pick<WaitOptions, 'signal'>> & Pick<WaitOptions, 'deadline'>;

export type UnaryHandler<Req, Res> = (request: Req, context: CallContext) => Promise<Res>;

const STATUS_NAMES = Object.fromEntries(Object.entries(status).map(([name, code]) => [code, name])) as Record<
  number,
  string
>;

/**
 * Adapts a promise-returning handler to grpc-js and adds what every RPC gets: the caller's deadline
 * and cancellation as WaitOptions, the one error-to-status mapping, and one log line per call
 * (method, team, stream, gRPC code, duration).
 */
export function unaryCall<Req extends object, Res>(
  method: string,
  log: Logger,
  handler: UnaryHandler<Req, Res>,
): handleUnaryCall<Req, Res> {
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
    const context: CallContext = { signal: abort.signal, deadline };
    const finish = (code: status, details?: string) => {
      const fields = {
        method,
        ...identify(call.request),
        code: STATUS_NAMES[code],
        durationMs: Math.round((performance.now() - startedAt) * 1000) / 1000,
      };
      if (code === status.INTERNAL || code === status.UNAVAILABLE) log.warn({ ...fields, details }, 'rpc');
      else log.info(details ? { ...fields, details } : fields, 'rpc');
    };
    handler(call.request, context).then(
      (response) => {
        finish(status.OK);
        callback(null, response);
      },
      (error: unknown) => {
        const grpcStatus = toGrpcStatus(error);
        finish(grpcStatus.code, grpcStatus.details);
        callback(grpcStatus);
      },
    );
  };
}

/**
 * team and stream name of the request for the log line (as `stream`: pino's `name` is the logger's),
 * cut short: they are untrusted input.
 */
function identify(request: object): { team?: string; stream?: string } {
  const { team, name } = request as { team?: unknown; name?: unknown };
  return {
    ...(typeof team === 'string' ? { team: team.slice(0, 64) } : {}),
    ...(typeof name === 'string' && name !== '' ? { stream: name.slice(0, 64) } : {}),
  };
}
