import { Failure, type FailureCode, NotFoundError } from '../core/errors.js';

/** A request names a host the fleet does not have. */
export class HostNotInFleetError extends NotFoundError {
  override readonly name = 'HostNotInFleetError';
  constructor(host: string) {
    super(`host '${host}' is not in the fleet`);
  }
}

/** Several hosts declare the stream a request names without `host`: which one is meant? */
export class StreamOnSeveralHostsError extends Failure {
  readonly code: FailureCode = 'FAILED_PRECONDITION';
  override readonly name = 'StreamOnSeveralHostsError';
}

/**
 * No host that answered declares the stream, but some did not answer: it may be on one of them,
 * so the answer is "cannot tell now", not "no such stream".
 */
export class HostsDidNotAnswerError extends Failure {
  readonly code: FailureCode = 'UNAVAILABLE';
  override readonly name = 'HostsDidNotAnswerError';
}
