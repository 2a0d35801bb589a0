import { status } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { callFields } from './callLog.js';
import type { CallObserver, CallType, EndedCall, MethodSpec } from './callPipeline.js';

/** Codes of calls turned away before they changed anything: bad input, no right, no such thing. */
const REFUSED = new Set<status>([
  status.UNAUTHENTICATED,
  status.PERMISSION_DENIED,
  status.INVALID_ARGUMENT,
  status.NOT_FOUND,
  status.FAILED_PRECONDITION,
  status.RESOURCE_EXHAUSTED,
]);

/**
 * The call pipeline's observer that writes the audit line (`audit: true`) of every call whose spec
 * asks for one (those that change something): the log line's fields and the outcome — what the
 * spec says a successful call did (e.g. SUCCESS or FAILURE of an action), REFUSED when it was
 * turned away, ERROR when it failed otherwise.
 */
export class AuditLog implements CallObserver {
  constructor(private readonly log: Logger) {}

  handled(spec: MethodSpec, _type: CallType, call: EndedCall): void {
    if (!spec.audit) return;
    const outcome = call.code === status.OK ? spec.audit.outcome(call.response) : REFUSED.has(call.code) ? 'REFUSED' : 'ERROR';
    this.log.info({ audit: true, ...callFields(spec, call), outcome }, 'audit');
  }
}
