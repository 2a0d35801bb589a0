import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import {
  CancelledError,
  DeadlineExceededError,
  InvalidArgumentError,
  StreamMaskedError,
  StreamNotDeclaredError,
  StreamUndeclaredError,
} from '../../src/core/errors.js';
import { toGrpcStatus } from '../../src/rpc/grpcStatus.js';
import { StreamController } from '../../src/control/streamController.js';
import { BusUnavailableError, DBusErrorNames, SystemdCallError } from '../../src/systemd/errors.js';
import { FakeSystemd } from '../support/fakeSystemd.js';

describe('what a gRPC caller sees for each failure', () => {
  it.each([
    ['an invalid argument', new InvalidArgumentError('team "X" is invalid'), status.INVALID_ARGUMENT, 3],
    ['an undeclared stream', new StreamNotDeclaredError('no unit file for contoso/bitcoin'), status.NOT_FOUND, 5],
    ['a masked stream', new StreamMaskedError('contoso/bitcoin is masked'), status.FAILED_PRECONDITION, 9],
    ['a stream still running after its unit file went', new StreamUndeclaredError('contoso/bitcoin is no longer declared'), status.FAILED_PRECONDITION, 9],
    ['a passed deadline', new DeadlineExceededError('the deadline passed'), status.DEADLINE_EXCEEDED, 4],
    ['a cancelled call', new CancelledError('the caller cancelled'), status.CANCELLED, 1],
    ['a lost bus', new BusUnavailableError('no connection to the system bus'), status.UNAVAILABLE, 14],
  ])('reports %s as code %s and keeps its message', (_what, error, code, number) => {
    const result = toGrpcStatus(error);
    expect(result.code).toBe(code);
    expect(result.code).toBe(number);
    expect(result.details).toContain(error.message);
  });

  it.each([
    ['AccessDenied', 'org.freedesktop.DBus.Error.AccessDenied', status.PERMISSION_DENIED, 7],
    ['InteractiveAuthorizationRequired', 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired', status.PERMISSION_DENIED, 7],
    ['UnitMasked', 'org.freedesktop.systemd1.UnitMasked', status.FAILED_PRECONDITION, 9],
    ['NoSuchUnit', 'org.freedesktop.systemd1.NoSuchUnit', status.NOT_FOUND, 5],
    ['NoReply', 'org.freedesktop.DBus.Error.NoReply', status.UNAVAILABLE, 14],
    ['Timeout', 'org.freedesktop.DBus.Error.Timeout', status.UNAVAILABLE, 14],
    ['ServiceUnknown', 'org.freedesktop.DBus.Error.ServiceUnknown', status.UNAVAILABLE, 14],
    ['Disconnected', 'org.freedesktop.DBus.Error.Disconnected', status.UNAVAILABLE, 14],
    ['LoadFailed', 'org.freedesktop.systemd1.LoadFailed', status.FAILED_PRECONDITION, 9],
    ['BadUnitSetting', 'org.freedesktop.systemd1.BadUnitSetting', status.FAILED_PRECONDITION, 9],
    ['OnlyByDependency', 'org.freedesktop.systemd1.OnlyByDependency', status.FAILED_PRECONDITION, 9],
    ['ShuttingDown', 'org.freedesktop.systemd1.ShuttingDown', status.UNAVAILABLE, 14],
    ['LimitsExceeded', 'org.freedesktop.DBus.Error.LimitsExceeded', status.RESOURCE_EXHAUSTED, 8],
  ])("reports systemd's %s D-Bus error as code %s", (_short, dbusErrorName, code, number) => {
    const result = toGrpcStatus(new SystemdCallError('StartUnit', dbusErrorName, 'something went wrong'));
    expect(result.code).toBe(code);
    expect(result.code).toBe(number);
  });

  it('explains a systemd refusal with the method, systemd’s message and the D-Bus error name', () => {
    const result = toGrpcStatus(
      new SystemdCallError('StartUnit', 'org.freedesktop.DBus.Error.AccessDenied', 'Access denied by policy'),
    );
    expect(result.details).toContain('StartUnit');
    expect(result.details).toContain('Access denied by policy');
    expect(result.details).toContain('org.freedesktop.DBus.Error.AccessDenied');
  });

  it.each([
    ['StartUnit', 'org.freedesktop.systemd1.manage-units'],
    ['StopUnit', 'org.freedesktop.systemd1.manage-units'],
    ['RestartUnit', 'org.freedesktop.systemd1.manage-units'],
    ['EnableUnitFiles', 'org.freedesktop.systemd1.manage-unit-files'],
    ['DisableUnitFiles', 'org.freedesktop.systemd1.manage-unit-files'],
    ['Reload', 'org.freedesktop.systemd1.reload-daemon'],
  ])('names the polkit action systemd asked about when it refused %s (%s)', (method, action) => {
    for (const name of [DBusErrorNames.accessDenied, DBusErrorNames.interactiveAuthorizationRequired]) {
      const refused = new SystemdCallError(method, name, 'Access denied');
      expect(refused.polkitAction).toBe(action);
      expect(toGrpcStatus(refused)).toMatchObject({ code: status.PERMISSION_DENIED, details: `systemd refused ${method}: Access denied (${name}; systemd asks polkit for ${action})` });
    }
    // Not a refusal: no polkit action is involved.
    expect(new SystemdCallError(method, DBusErrorNames.noReply, 'no reply').polkitAction).toBeUndefined();
  });

  it("reports an Enable the host's polkit rule refuses as PERMISSION_DENIED saying so, with what to do and where to read it", async () => {
    const systemd = new FakeSystemd();
    systemd.declare('bitcoin');
    systemd.refusals.set('EnableUnitFiles', new SystemdCallError('EnableUnitFiles', DBusErrorNames.accessDenied, 'Access denied'));
    const controller = new StreamController(systemd, systemd.naming, systemd, { settleMs: 0, scope: 'system' });
    const result = toGrpcStatus(await controller.enable({ team: 'contoso', name: 'bitcoin' }).catch((error: unknown) => error));
    expect(result.code).toBe(status.PERMISSION_DENIED);
    expect(result.details).toBe(
      "this host's polkit rule does not allow lit-streamd to enable unit files, so nothing was changed " +
        '(systemd refused EnableUnitFiles: Access denied (org.freedesktop.DBus.Error.AccessDenied; systemd asks polkit for org.freedesktop.systemd1.manage-unit-files)). ' +
        'Run `systemctl enable lit-stream-contoso@bitcoin.service` on the host, or grant it with the rule in docs/security.md, "Enable and Disable under the system manager", after reading what that rule risks',
    );
  });

  it('reports an unknown D-Bus error as INTERNAL, keeping systemd’s message', () => {
    const result = toGrpcStatus(new SystemdCallError('StopUnit', 'org.example.Weird', 'it broke'));
    expect(result.code).toBe(status.INTERNAL);
    expect(result.code).toBe(13);
    expect(result.details).toContain('it broke');
    expect(result.details).toContain('org.example.Weird');
  });

  it('reports a plain Error as INTERNAL, keeping its message', () => {
    const result = toGrpcStatus(new Error('unexpected null'));
    expect(result.code).toBe(status.INTERNAL);
    expect(result.details).toContain('unexpected null');
  });

  it('reports a thrown non-Error as INTERNAL with its text', () => {
    const result = toGrpcStatus('a bare string');
    expect(result.code).toBe(status.INTERNAL);
    expect(result.details).toContain('a bare string');
  });

  it('always attaches metadata', () => {
    expect(toGrpcStatus(new Error('x')).metadata).toBeDefined();
  });
});
