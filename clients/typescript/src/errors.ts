import { type ServiceError, status } from '@grpc/grpc-js';

const CODE_NAMES = Object.fromEntries(Object.entries(status).map(([name, code]) => [code, name])) as Record<
  number,
  string
>;

/** A failed call: the gRPC status code (numeric and by name) and the server's explanation. */
export class LitStreamError extends Error {
  override readonly name = 'LitStreamError';
  /** The gRPC status code, e.g. 5 (see `status` from @grpc/grpc-js). */
  readonly code: status;
  /** The code's name, e.g. `NOT_FOUND`. */
  readonly codeName: string;
  readonly details: string;

  constructor(code: status, details: string) {
    super(`${CODE_NAMES[code] ?? code}: ${details}`);
    this.code = code;
    this.codeName = CODE_NAMES[code] ?? String(code);
    this.details = details;
  }

  static from(error: ServiceError): LitStreamError {
    return new LitStreamError(error.code ?? status.UNKNOWN, error.details || error.message);
  }
}
