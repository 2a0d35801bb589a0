/**
 * Failures of the systemd adapter, in D-Bus terms. The server's status table maps them to gRPC codes;
 * nothing here knows about gRPC.
 */

/** systemd (or the bus) answered a method call with a D-Bus error, e.g.
 *  `org.freedesktop.systemd1.UnitMasked` or `org.freedesktop.DBus.Error.AccessDenied`. */
export class SystemdCallError extends Error {
  override readonly name = 'SystemdCallError';
  constructor(
    readonly method: string,
    readonly dbusErrorName: string,
    readonly dbusMessage: string,
  ) {
    super(`${method}: ${dbusErrorName}: ${dbusMessage}`);
  }
}

/** There is no connection to the bus right now (never made, lost, or closed). */
export class BusUnavailableError extends Error {
  override readonly name = 'BusUnavailableError';
}

/** D-Bus error names the adapter and the status table both refer to. */
export const DBusErrorNames = {
  accessDenied: 'org.freedesktop.DBus.Error.AccessDenied',
  interactiveAuthorizationRequired: 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired',
  noReply: 'org.freedesktop.DBus.Error.NoReply',
  serviceUnknown: 'org.freedesktop.DBus.Error.ServiceUnknown',
  nameHasNoOwner: 'org.freedesktop.DBus.Error.NameHasNoOwner',
  disconnected: 'org.freedesktop.DBus.Error.Disconnected',
  timeout: 'org.freedesktop.DBus.Error.Timeout',
  limitsExceeded: 'org.freedesktop.DBus.Error.LimitsExceeded',
  unitMasked: 'org.freedesktop.systemd1.UnitMasked',
  noSuchUnit: 'org.freedesktop.systemd1.NoSuchUnit',
  loadFailed: 'org.freedesktop.systemd1.LoadFailed',
  badUnitSetting: 'org.freedesktop.systemd1.BadUnitSetting',
  onlyByDependency: 'org.freedesktop.systemd1.OnlyByDependency',
  shuttingDown: 'org.freedesktop.systemd1.ShuttingDown',
} as const;
