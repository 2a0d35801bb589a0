import { type ServiceError, status } from '@grpc/grpc-js';

/**
 * `OK`, `NOT_FOUND`, … by code number, from grpc-js's `status` enum (whose object maps names to
 * numbers and numbers back to names: only the former are codes); clients/testdata/statusCodes.json
 * holds it, the server's and the Python client's names to the same table.
 */
const CODE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(status)
    .filter((entry): entry is [string, number] => typeof entry[1] === 'number')
    .map(([name, code]) => [code, name]),
);

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
