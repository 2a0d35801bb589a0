import { Failure, type FailureCode } from '../core/errors.js';

/**
 * Failures of the systemd adapter, in D-Bus terms, each with the canonical status it stands for
 * (src/core/errors.ts); nothing here knows about gRPC.
 */

/** D-Bus error names the adapter refers to. */
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

/**
 * What the D-Bus errors systemd (or the bus) answers with mean to a caller. FAILED_PRECONDITION:
 * the unit as it stands cannot be started until someone changes it (masked, a unit file systemd
 * could not load or with a bad setting, RefuseManualStart=). UNAVAILABLE: try again later (no
 * answer, systemd not on the bus, or the bus shutting down). RESOURCE_EXHAUSTED: a limit of systemd
 * or the bus was hit. Any other name is INTERNAL: nothing the caller can act on.
 */
const CODE_OF_DBUS_ERROR: Readonly<Record<string, FailureCode>> = {
  [DBusErrorNames.accessDenied]: 'PERMISSION_DENIED',
  [DBusErrorNames.interactiveAuthorizationRequired]: 'PERMISSION_DENIED',
  [DBusErrorNames.unitMasked]: 'FAILED_PRECONDITION',
  [DBusErrorNames.loadFailed]: 'FAILED_PRECONDITION',
  [DBusErrorNames.badUnitSetting]: 'FAILED_PRECONDITION',
  [DBusErrorNames.onlyByDependency]: 'FAILED_PRECONDITION',
  [DBusErrorNames.noSuchUnit]: 'NOT_FOUND',
  [DBusErrorNames.noReply]: 'UNAVAILABLE',
  [DBusErrorNames.timeout]: 'UNAVAILABLE',
  [DBusErrorNames.serviceUnknown]: 'UNAVAILABLE',
  [DBusErrorNames.nameHasNoOwner]: 'UNAVAILABLE',
  [DBusErrorNames.disconnected]: 'UNAVAILABLE',
  [DBusErrorNames.shuttingDown]: 'UNAVAILABLE',
  [DBusErrorNames.limitsExceeded]: 'RESOURCE_EXHAUSTED',
};

/**
 * The polkit action systemd's system manager asks about before it runs each method the adapter
 * calls for an unprivileged caller (org.freedesktop.systemd1(5), "Security"; systemd's
 * src/core/dbus.c, bus_verify_*_async): `manage-units` with the details `unit` and `verb`;
 * `manage-unit-files` and `reload-daemon` with no details at all, so a polkit rule cannot tell
 * one unit file from another. A user manager asks polkit nothing of its own user.
 */
const POLKIT_ACTION_OF_METHOD: Readonly<Record<string, string>> = {
  StartUnit: 'org.freedesktop.systemd1.manage-units',
  StopUnit: 'org.freedesktop.systemd1.manage-units',
  RestartUnit: 'org.freedesktop.systemd1.manage-units',
  EnableUnitFiles: 'org.freedesktop.systemd1.manage-unit-files',
  DisableUnitFiles: 'org.freedesktop.systemd1.manage-unit-files',
  Reload: 'org.freedesktop.systemd1.reload-daemon',
};

/** systemd (or the bus) answered a method call with a D-Bus error, e.g.
 *  `org.freedesktop.systemd1.UnitMasked` or `org.freedesktop.DBus.Error.AccessDenied`. */
export class SystemdCallError extends Failure {
  override readonly name = 'SystemdCallError';
  readonly code: FailureCode;
  constructor(
    readonly method: string,
    readonly dbusErrorName: string,
    readonly dbusMessage: string,
  ) {
    super(`${method}: ${dbusErrorName}: ${dbusMessage}`);
    this.code = CODE_OF_DBUS_ERROR[dbusErrorName] ?? 'INTERNAL';
  }

  /**
   * The polkit action systemd asked about, when this is a refusal (PERMISSION_DENIED) of a method
   * that systemd guards with one; undefined otherwise.
   */
  get polkitAction(): string | undefined {
    return this.code === 'PERMISSION_DENIED' ? POLKIT_ACTION_OF_METHOD[this.method] : undefined;
  }

  override get details(): string {
    const polkit = this.polkitAction === undefined ? '' : `; systemd asks polkit for ${this.polkitAction}`;
    return `systemd refused ${this.method}: ${this.dbusMessage} (${this.dbusErrorName}${polkit})`;
  }
}

/** There is no connection to the bus right now (never made, lost, or closed). */
export class BusUnavailableError extends Failure {
  override readonly name = 'BusUnavailableError';
  readonly code: FailureCode = 'UNAVAILABLE';
}
