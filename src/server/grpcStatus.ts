import { Metadata, status, type StatusObject } from '@grpc/grpc-js';
import {
  CancelledError,
  DeadlineExceededError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  ServerShuttingDownError,
  StreamMaskedError,
  StreamUndeclaredError,
  UnauthenticatedError,
} from '../core/errors.js';
import { BusUnavailableError, DBusErrorNames, SystemdCallError } from '../systemd/errors.js';
import { JournalUnavailableError } from '../systemd/journalctl.js';

/**
 * The one table from failures to gRPC status codes (grpc.io, "Status codes and their use in gRPC").
 * Handlers just throw; this decides what the caller sees.
 */
const BY_ERROR_CLASS: ReadonlyArray<[new (...args: never[]) => Error, status]> = [
  [InvalidArgumentError, status.INVALID_ARGUMENT],
  [NotFoundError, status.NOT_FOUND],
  [StreamMaskedError, status.FAILED_PRECONDITION],
  [StreamUndeclaredError, status.FAILED_PRECONDITION],
  // No journal, or not readable by the server's user: fixed by whoever runs the server.
  [JournalUnavailableError, status.FAILED_PRECONDITION],
  [DeadlineExceededError, status.DEADLINE_EXCEEDED],
  [CancelledError, status.CANCELLED],
  [BusUnavailableError, status.UNAVAILABLE],
  [UnauthenticatedError, status.UNAUTHENTICATED],
  [PermissionDeniedError, status.PERMISSION_DENIED],
  [ResourceExhaustedError, status.RESOURCE_EXHAUSTED],
  [ServerShuttingDownError, status.UNAVAILABLE],
];

/**
 * D-Bus errors systemd (or the bus) answers with. FAILED_PRECONDITION: the unit as it stands cannot
 * be started until someone changes it (masked, a unit file systemd could not load or with a bad
 * setting, RefuseManualStart=). UNAVAILABLE: try again later (no answer, systemd not on the bus, or
 * the bus shutting down). RESOURCE_EXHAUSTED: a limit of systemd or the bus was hit.
 */
const BY_DBUS_ERROR: Readonly<Record<string, status>> = {
  [DBusErrorNames.accessDenied]: status.PERMISSION_DENIED,
  [DBusErrorNames.interactiveAuthorizationRequired]: status.PERMISSION_DENIED,
  [DBusErrorNames.unitMasked]: status.FAILED_PRECONDITION,
  [DBusErrorNames.loadFailed]: status.FAILED_PRECONDITION,
  [DBusErrorNames.badUnitSetting]: status.FAILED_PRECONDITION,
  [DBusErrorNames.onlyByDependency]: status.FAILED_PRECONDITION,
  [DBusErrorNames.noSuchUnit]: status.NOT_FOUND,
  [DBusErrorNames.noReply]: status.UNAVAILABLE,
  [DBusErrorNames.timeout]: status.UNAVAILABLE,
  [DBusErrorNames.serviceUnknown]: status.UNAVAILABLE,
  [DBusErrorNames.nameHasNoOwner]: status.UNAVAILABLE,
  [DBusErrorNames.disconnected]: status.UNAVAILABLE,
  [DBusErrorNames.shuttingDown]: status.UNAVAILABLE,
  [DBusErrorNames.limitsExceeded]: status.RESOURCE_EXHAUSTED,
};

export function toGrpcStatus(error: unknown): StatusObject {
  const err = error instanceof Error ? error : new Error(String(error));
  let code = status.INTERNAL;
  for (const [errorClass, mapped] of BY_ERROR_CLASS) {
    if (err instanceof errorClass) code = mapped;
  }
  let details = err.message;
  if (err instanceof SystemdCallError) {
    code = BY_DBUS_ERROR[err.dbusErrorName] ?? status.INTERNAL;
    details = `systemd refused ${err.method}: ${err.dbusMessage} (${err.dbusErrorName})`;
  } else if (code === status.INTERNAL) {
    details = `internal error: ${err.message}`;
  }
  return { code, details, metadata: new Metadata() };
}
