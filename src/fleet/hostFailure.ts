import { status } from '@grpc/grpc-js';
import type { HostError } from '../core/backend.js';
import { Failure, type FailureCode } from '../core/errors.js';

/** Canonical code names by gRPC code number. */
const CODE_NAMES = new Map<number, FailureCode>(
  Object.entries(status)
    .filter((entry): entry is [FailureCode, number] => typeof entry[1] === 'number' && entry[0] !== 'OK')
    .map(([name, code]) => [code, name]),
);

/**
 * What one host of the fleet answered (or why it could not be asked), for its caller: the host's
 * own code, and its message with the host named.
 */
export class HostFailure extends Failure {
  override readonly name = 'HostFailure';

  constructor(
    readonly host: string,
    readonly code: FailureCode,
    /** What the host said, or why it could not be asked. */
    readonly reason: string,
  ) {
    super(`host '${host}': ${reason}`);
  }

  /** A grpc-js error of a call to the host (a ServiceError, or anything else thrown). */
  static from(host: string, error: unknown): HostFailure {
    if (error instanceof HostFailure) return error;
    if (error instanceof Failure) return new HostFailure(host, error.code, error.message);
    const { code, details, message } = error as { code?: number; details?: string; message?: string };
    const name = code === undefined ? undefined : CODE_NAMES.get(code);
    // grpc-js ends a connection failure with an empty "Resolution note:"; the rest is the reason.
    const reason = ((details || message) ?? String(error)).replace(/\s*Resolution note:\s*$/, '');
    return new HostFailure(host, name ?? 'UNKNOWN', reason);
  }

  get hostError(): HostError {
    return { host: this.host, code: this.code, message: this.reason };
  }
}
