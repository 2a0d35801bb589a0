/**
 * The product's failure vocabulary. Code anywhere throws these; exactly one table
 * (src/server/grpcStatus.ts) turns them into gRPC status codes.
 */

/** A request field is malformed (bad team, bad name, foreign page token). */
export class InvalidArgumentError extends Error {
  override readonly name = 'InvalidArgumentError';
}

/** What the request names does not exist (e.g. a service unknown to health checking). */
export class NotFoundError extends Error {
  override readonly name: string = 'NotFoundError';
}

/** The stream has no unit file of its own in systemd's search path. */
export class StreamNotDeclaredError extends NotFoundError {
  override readonly name: string = 'StreamNotDeclaredError';
}

/** The stream's unit is masked, so systemd will refuse to start it. */
export class StreamMaskedError extends Error {
  override readonly name = 'StreamMaskedError';
}

/** The stream's unit file was removed (or no longer declares it) while its unit runs: it can only
 *  be stopped. */
export class StreamUndeclaredError extends Error {
  override readonly name = 'StreamUndeclaredError';
}

/** The caller's deadline passed while we were waiting on systemd. */
export class DeadlineExceededError extends Error {
  override readonly name = 'DeadlineExceededError';
}

/** The caller went away (cancelled the call) while we were waiting on systemd. */
export class CancelledError extends Error {
  override readonly name = 'CancelledError';
}

/** The caller showed no credential, or one we don't know. */
export class UnauthenticatedError extends Error {
  override readonly name = 'UnauthenticatedError';
}

/** The caller is known but holds no role that allows this call for this team. */
export class PermissionDeniedError extends Error {
  override readonly name = 'PermissionDeniedError';
}

/** The caller is over a limit (e.g. concurrent calls per identity). */
export class ResourceExhaustedError extends Error {
  override readonly name = 'ResourceExhaustedError';
}

/** The server is shutting down: calls still open are ended so that clients go elsewhere or retry
 *  (an action not yet sent to systemd is not sent; one whose job runs is left to systemd). */
export class ServerShuttingDownError extends Error {
  override readonly name = 'ServerShuttingDownError';
}
