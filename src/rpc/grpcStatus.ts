import { Metadata, status, type StatusObject } from '@grpc/grpc-js';
import { Failure } from '../core/errors.js';

/**
 * The one place failures become gRPC statuses (grpc.io, "Status codes and their use in gRPC").
 * Handlers just throw; each Failure names its canonical code (the adapters decide what their own
 * errors mean, e.g. systemd's D-Bus errors in src/systemd/errors.ts), and anything else is INTERNAL.
 */
export function toGrpcStatus(error: unknown): StatusObject {
  const err = error instanceof Error ? error : new Error(String(error));
  if (err instanceof Failure) return { code: status[err.code], details: err.details, metadata: new Metadata() };
  return { code: status.INTERNAL, details: `internal error: ${err.message}`, metadata: new Metadata() };
}

/**
 * `OK`, `NOT_FOUND`, … by code number: what logs and metrics call a status. From grpc-js's `status`
 * enum, whose object maps names to numbers and numbers back to names: only the former are codes.
 */
export const STATUS_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(status)
    .filter((entry): entry is [string, number] => typeof entry[1] === 'number')
    .map(([name, code]) => [code, name]),
);
