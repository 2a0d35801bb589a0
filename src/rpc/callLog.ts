import { status } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { CallObserver, CallType, EndedCall, MethodSpec } from './callPipeline.js';
import { STATUS_NAMES } from './grpcStatus.js';

/** What a call's log and audit lines share: method, the spec's request fields, identity, code, duration. */
export function callFields(spec: MethodSpec, call: EndedCall): Record<string, unknown> {
  return {
    method: spec.method,
    ...(call.request !== undefined ? spec.fields?.(call.request) : undefined),
    identity: call.caller?.label,
    // A call a fleet gateway forwarded: the caller above, and the gateway that vouched for it.
    ...(call.caller?.gateway ? { gateway: call.caller.gateway } : {}),
    code: STATUS_NAMES[call.code],
    durationMs: Math.round(call.seconds * 1_000_000) / 1000,
  };
}

/**
 * The call pipeline's observer that writes one `rpc` line per call: method, what its spec says of
 * the request (team, stream), identity, gRPC code, duration, and the status message of a failure.
 */
export class CallLog implements CallObserver {
  constructor(private readonly log: Logger) {}

  handled(spec: MethodSpec, _type: CallType, call: EndedCall): void {
    const fields = callFields(spec, call);
    const line = call.details ? { ...fields, details: call.details } : fields;
    // Failures on our side are warnings, except calls a shutdown ended: those are expected.
    if (spec.quiet) this.log.debug(line, 'rpc');
    else if (call.code === status.INTERNAL || (call.code === status.UNAVAILABLE && !call.shuttingDown)) this.log.warn(line, 'rpc');
    else this.log.info(line, 'rpc');
  }
}
