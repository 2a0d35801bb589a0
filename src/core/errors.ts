/**
 * The product's failure vocabulary. Code anywhere throws these; each says which canonical status
 * it stands for (google.rpc.Code's names, which gRPC's status codes share), and the rpc layer
 * (src/rpc/grpcStatus.ts) turns that into the caller's gRPC status. Adapters below (systemd,
 * journal) extend Failure with their own reasons, so the layers above never import them.
 */

/** Canonical status names (grpc.io, "Status codes and their use in gRPC"), every one but OK:
 *  a fleet relays whatever its hosts answered. */
export type FailureCode =
  | 'CANCELLED'
  | 'UNKNOWN'
  | 'ALREADY_EXISTS'
  | 'ABORTED'
  | 'OUT_OF_RANGE'
  | 'DATA_LOSS'
  | 'INVALID_ARGUMENT'
  | 'DEADLINE_EXCEEDED'
  | 'NOT_FOUND'
  | 'PERMISSION_DENIED'
  | 'RESOURCE_EXHAUSTED'
  | 'FAILED_PRECONDITION'
  | 'INTERNAL'
  | 'UNAVAILABLE'
  | 'UNIMPLEMENTED'
  | 'UNAUTHENTICATED';

/** A failure that knows what it means to a caller. */
export abstract class Failure extends Error {
  abstract readonly code: FailureCode;
  /** What the caller is told; the message unless a subclass words it for callers. */
  get details(): string {
    return this.message;
  }
}

/** A request field is malformed (bad team, bad name, foreign page token). */
export class InvalidArgumentError extends Failure {
  readonly code: FailureCode = 'INVALID_ARGUMENT';
  override readonly name = 'InvalidArgumentError';
}

/** What the request names does not exist (e.g. a service unknown to health checking). */
export class NotFoundError extends Failure {
  readonly code: FailureCode = 'NOT_FOUND';
  override readonly name: string = 'NotFoundError';
}

/** The stream has no unit file of its own in systemd's search path. */
export class StreamNotDeclaredError extends NotFoundError {
  override readonly name: string = 'StreamNotDeclaredError';
}

/** The stream's unit is masked, so systemd will refuse to start it. */
export class StreamMaskedError extends Failure {
  readonly code: FailureCode = 'FAILED_PRECONDITION';
  override readonly name = 'StreamMaskedError';
}

/** The stream's unit file was removed (or no longer declares it) while its unit runs: it can only
 *  be stopped. */
export class StreamUndeclaredError extends Failure {
  readonly code: FailureCode = 'FAILED_PRECONDITION';
  override readonly name = 'StreamUndeclaredError';
}

/** The stream's unit file, as it stands, cannot be enabled or disabled (e.g. no [Install] section). */
export class StreamNotEnableableError extends Failure {
  readonly code: FailureCode = 'FAILED_PRECONDITION';
  override readonly name = 'StreamNotEnableableError';
}

/**
 * systemd refused to change the stream's unit files, or to reload after, for the server's own user:
 * under a system manager, the host's polkit rule does not grant it. The code is the refusal's own.
 */
export class UnitFilesRefusedError extends Failure {
  override readonly name = 'UnitFilesRefusedError';
  constructor(
    message: string,
    readonly code: FailureCode,
  ) {
    super(message);
  }
}

/** The caller's deadline passed while we were waiting on systemd. */
export class DeadlineExceededError extends Failure {
  readonly code: FailureCode = 'DEADLINE_EXCEEDED';
  override readonly name = 'DeadlineExceededError';
}

/** The caller went away (cancelled the call) while we were waiting on systemd. */
export class CancelledError extends Failure {
  readonly code: FailureCode = 'CANCELLED';
  override readonly name = 'CancelledError';
}

/** The caller showed no credential, or one we don't know. */
export class UnauthenticatedError extends Failure {
  readonly code: FailureCode = 'UNAUTHENTICATED';
  override readonly name = 'UnauthenticatedError';
}

/** The caller is known but holds no role that allows this call for this team. */
export class PermissionDeniedError extends Failure {
  readonly code: FailureCode = 'PERMISSION_DENIED';
  override readonly name = 'PermissionDeniedError';
}

/** The caller is over a limit (e.g. concurrent calls per identity). */
export class ResourceExhaustedError extends Failure {
  readonly code: FailureCode = 'RESOURCE_EXHAUSTED';
  override readonly name = 'ResourceExhaustedError';
}

/** The server is shutting down: calls still open are ended so that clients go elsewhere or retry
 *  (an action not yet sent to systemd is not sent; one whose job runs is left to systemd). */
export class ServerShuttingDownError extends Failure {
  readonly code: FailureCode = 'UNAVAILABLE';
  override readonly name = 'ServerShuttingDownError';
}
