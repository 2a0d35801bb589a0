import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ManagerScope } from '../../src/control/enablement.js';
import { StreamController } from '../../src/control/streamController.js';
import { DeadlineExceededError, StreamMaskedError, StreamNotDeclaredError, StreamNotEnableableError, StreamUndeclaredError, UnitFilesRefusedError } from '../../src/core/errors.js';
import type { EnablementResult, StreamSummary } from '../../src/core/status.js';
import { DBusErrorNames, SystemdCallError } from '../../src/systemd/errors.js';
import { persistentConfigDirectory } from '../../src/systemd/unitPaths.js';
import { CLD_EXITED, CONFIG_DIR, FakeSystemd } from '../support/fakeSystemd.js';

/**
 * Enable and Disable (`systemctl enable|disable [--now]`) against a fake systemd whose
 * EnableUnitFiles/DisableUnitFiles answer as systemd 252's do (test/integration/enable.spec.ts
 * proves that on the real one).
 */

const REF = { team: 'contoso', name: 'bitcoin' };
const UNIT = 'lit-stream-contoso@bitcoin.service';
const FILE = `${CONFIG_DIR}/${UNIT}`;
const WANTS = `${CONFIG_DIR}/default.target.wants/${UNIT}`;

function summary(unitFileState: string, activeState = 'inactive', subState = 'dead'): StreamSummary {
  return { team: 'contoso', name: 'bitcoin', unit: UNIT, loadState: 'loaded', activeState, subState, unitFileState };
}

function setup(options: { install?: string | null; fileState?: string; path?: string; scope?: ManagerScope } = {}) {
  const systemd = new FakeSystemd();
  systemd.declare('bitcoin', { install: options.install, fileState: options.fileState, path: options.path });
  const controller = new StreamController(systemd, systemd.naming, systemd, { settleMs: 0, scope: options.scope });
  return { systemd, controller };
}

const written = (systemd: FakeSystemd) => systemd.calls.filter((call) => /^(EnableUnitFiles|DisableUnitFiles|Reload|StartUnit|StopUnit)/.test(call));

describe('Enable: start at boot, as systemctl enable', () => {
  it("creates the symlink the [Install] section asks for, reloads systemd, and lists systemd's change", async () => {
    const { systemd, controller } = setup();
    expect(await controller.enable(REF)).toEqual<EnablementResult>({
      status: 'SUCCESS',
      message: 'Stream enabled.',
      changes: [{ type: 'symlink', path: WANTS, destination: FILE }],
      jobResult: '',
      stream: summary('enabled'),
    });
    expect(written(systemd)).toEqual([`EnableUnitFiles ${UNIT}`, 'Reload']);
    expect(systemd.sent).toEqual([]);
  });

  it('succeeds and says nothing changed for an enabled stream', async () => {
    const { systemd, controller } = setup();
    await controller.enable(REF);
    expect(await controller.enable(REF)).toEqual({ status: 'SUCCESS', message: 'Stream was already enabled.', changes: [], jobResult: '', stream: summary('enabled') });
    expect(written(systemd)).toEqual([`EnableUnitFiles ${UNIT}`, 'Reload', `EnableUnitFiles ${UNIT}`, 'Reload']);
  });

  it.each<[ManagerScope, string]>([
    ['user', 'default.target'],
    ['system', 'multi-user.target'],
  ])('refuses a unit file without [Install] on a %s manager, saying to add WantedBy=%s', async (scope, target) => {
    const { systemd, controller } = setup({ install: null, scope });
    await expect(controller.enable(REF)).rejects.toThrow(
      new StreamNotEnableableError(
        `stream 'bitcoin' of team 'contoso' cannot be enabled: ${FILE} has no [Install] section, so systemd has nothing to enable it by. Add one that says what starts it at boot: "[Install]\nWantedBy=${target}"`,
      ),
    );
    expect(written(systemd)).toEqual([`EnableUnitFiles ${UNIT}`]);
  });

  it('refuses a masked stream as Start does', async () => {
    const { systemd, controller } = setup({ fileState: 'masked' });
    await expect(controller.enable(REF)).rejects.toThrow(new StreamMaskedError(`stream 'bitcoin' of team 'contoso' is masked (${FILE}); unmask ${UNIT} before you enable it`));
    expect(written(systemd)).toEqual([]);
  });

  it('enables only declared streams', async () => {
    const { systemd, controller } = setup();
    await expect(controller.enable({ team: 'contoso', name: 'ghost' })).rejects.toThrow(StreamNotDeclaredError);
    systemd.file(UNIT, { fileState: undefined, undeclared: true });
    await expect(controller.enable(REF)).rejects.toThrow(
      new StreamUndeclaredError(
        `stream 'bitcoin' of team 'contoso' is no longer declared (there is no unit file ${UNIT} in systemd's unit search path) but still runs: it can be stopped, not enabled`,
      ),
    );
    expect(written(systemd)).toEqual([]);
  });

  it('with now, then starts the stream, answered as Start is', async () => {
    const { systemd, controller } = setup();
    expect(await controller.enable(REF, { now: true })).toEqual({
      status: 'SUCCESS',
      message: 'Stream enabled. Stream started successfully.',
      changes: [{ type: 'symlink', path: WANTS, destination: FILE }],
      jobResult: 'done',
      stream: summary('enabled', 'active', 'running'),
    });
    expect(written(systemd)).toEqual([`EnableUnitFiles ${UNIT}`, 'Reload', `StartUnit ${UNIT}`]);
  });

  it('with now, keeps the stream enabled when the start fails, and says both', async () => {
    const { systemd, controller } = setup();
    systemd.outcome = () => ({ result: 'failed', props: { ActiveState: 'failed', SubState: 'failed', Result: 'exit-code', ExecMainCode: CLD_EXITED, ExecMainStatus: 2 } });
    const result = await controller.enable(REF, { now: true });
    expect(result).toEqual({
      status: 'FAILURE',
      message: `Stream enabled. Stream failed to start: systemd's start job ended 'failed', the unit is failed with result 'exit-code', exit status 2. See: journalctl -u ${UNIT}`,
      changes: [{ type: 'symlink', path: WANTS, destination: FILE }],
      jobResult: 'failed',
      stream: summary('enabled', 'failed', 'failed'),
      logs: [],
    });
  });

  it('with now, says the stream was enabled when the start then fails with an error', async () => {
    const { systemd, controller } = setup();
    systemd.hold();
    await expect(controller.enable(REF, { now: true, deadline: Date.now() + 300 })).rejects.toThrow(
      new DeadlineExceededError(`Stream enabled. Then: the deadline passed; the start job /org/freedesktop/systemd1/job/1 is still running in systemd`),
    );
  });
});

describe('Disable: no longer start at boot, as systemctl disable', () => {
  it("removes the symlink, reloads systemd, and lists systemd's change", async () => {
    const { systemd, controller } = setup();
    await controller.enable(REF);
    expect(await controller.disable(REF)).toEqual({
      status: 'SUCCESS',
      message: 'Stream disabled.',
      changes: [{ type: 'unlink', path: WANTS, destination: '' }],
      jobResult: '',
      stream: summary('disabled'),
    });
    expect(written(systemd).slice(2)).toEqual([`DisableUnitFiles ${UNIT}`, 'Reload']);
  });

  it('succeeds and says so for a stream that was not enabled, or is masked (systemd notes it, changes nothing)', async () => {
    expect(await setup().controller.disable(REF)).toEqual({ status: 'SUCCESS', message: 'Stream was not enabled.', changes: [], jobResult: '', stream: summary('disabled') });
    const masked = await setup({ fileState: 'masked' }).controller.disable(REF);
    expect([masked.status, masked.message, masked.changes]).toEqual(['SUCCESS', 'Stream was not enabled.', []]);
  });

  it('with now, then stops the stream, answered as Stop is', async () => {
    const { systemd, controller } = setup();
    await controller.enable(REF, { now: true });
    expect(await controller.disable(REF, { now: true })).toEqual({
      status: 'SUCCESS',
      message: 'Stream disabled. Stream stopped successfully.',
      changes: [{ type: 'unlink', path: WANTS, destination: '' }],
      jobResult: 'done',
      stream: summary('disabled'),
    });
    expect(written(systemd).slice(3)).toEqual([`DisableUnitFiles ${UNIT}`, 'Reload', `StopUnit ${UNIT}`]);
  });
});

describe('a stream declared by a symlink in the configuration directory', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  /** A real symlink to the team's template in `dir`, which is the fake's configuration directory when `config`. */
  async function declaredBySymlink(config: boolean, install: string | null = 'default.target') {
    dir = await mkdtemp(join(tmpdir(), 'lit-stream-enable-'));
    await writeFile(join(dir, 'lit-stream-contoso@.service'), '[Service]\nExecStart=/bin/true\n');
    await symlink('lit-stream-contoso@.service', join(dir, UNIT));
    const s = setup({ path: join(dir, UNIT), install });
    if (config) s.systemd.unitPath = [`${dir}.control`, '/run/user/1/systemd/transient', '/run/user/1/systemd/generator.early', dir];
    return s;
  }

  it('is neither enabled nor disabled: DisableUnitFiles would remove its declaration with the .wants link', async () => {
    const { systemd, controller } = await declaredBySymlink(true);
    for (const [verb, call] of [['enabled', () => controller.enable(REF)], ['disabled', () => controller.disable(REF)]] as const) {
      await expect(call()).rejects.toThrow(
        new StreamNotEnableableError(
          `stream 'bitcoin' of team 'contoso' cannot be ${verb}: it is declared by a symlink in ${dir} (${join(dir!, UNIT)}), and systemd's DisableUnitFiles removes every symlink named ${UNIT} there, its declaration too. Declare it by a regular file there, or by the symlink in another directory of the unit search path (e.g. /usr/local/lib/systemd/system for the system manager, ~/.local/share/systemd/user for a user manager)`,
        ),
      );
    }
    expect(written(systemd)).toEqual([]);
  });

  it('is enabled as any other when the symlink is elsewhere in the search path; without [Install], the team\'s template is named', async () => {
    const elsewhere = await declaredBySymlink(false);
    expect((await elsewhere.controller.enable(REF)).message).toBe('Stream enabled.');
    await rm(dir!, { recursive: true, force: true });
    const bare = await declaredBySymlink(false, null);
    await expect(bare.controller.enable(REF)).rejects.toThrow(/^stream 'bitcoin' of team 'contoso' cannot be enabled: the team's template lit-stream-contoso@\.service has no \[Install\] section/);
  });
});

describe("the configuration directory in systemd's unit search path", () => {
  it.each([
    [
      'the system manager',
      ['/etc/systemd/system.control', '/run/systemd/system.control', '/run/systemd/transient', '/run/systemd/generator.early', '/etc/systemd/system', '/etc/systemd/system.attached', '/run/systemd/system', '/usr/lib/systemd/system'],
      '/etc/systemd/system',
    ],
    [
      'a user manager',
      ['/home/u/.config/systemd/user.control', '/run/user/1000/systemd/user.control', '/run/user/1000/systemd/transient', '/run/user/1000/systemd/generator.early', '/home/u/.config/systemd/user', '/etc/systemd/user', '/usr/lib/systemd/user'],
      '/home/u/.config/systemd/user',
    ],
    ['none', ['/run/systemd/generator', '/run/systemd/generator.late'], undefined],
  ])('of %s', (_who, unitPath, expected) => {
    expect(persistentConfigDirectory(unitPath)).toBe(expected);
  });
});

/**
 * Under a system manager, systemd asks polkit before EnableUnitFiles/DisableUnitFiles
 * (`manage-unit-files`) and Reload (`reload-daemon`) for lit-streamd's user, and
 * deploy/50-lit-stream.rules says no: systemd answers AccessDenied (a rule's NO), or
 * InteractiveAuthorizationRequired (no rule, the action's default asks for a password).
 */
describe("Enable and Disable where the host's polkit rule refuses unit files", () => {
  const refusal = (method: string, name: string = DBusErrorNames.accessDenied) => new SystemdCallError(method, name, 'Access denied');

  it.each([DBusErrorNames.accessDenied, DBusErrorNames.interactiveAuthorizationRequired])(
    'answers PERMISSION_DENIED saying the rule does not allow enabling unit files, what to do, and where it is documented (%s); nothing changed, nothing started',
    async (name) => {
      const { systemd, controller } = setup();
      systemd.refusals.set('EnableUnitFiles', refusal('EnableUnitFiles', name));
      const refused = await controller.enable(REF, { now: true }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(UnitFilesRefusedError);
      expect(refused).toMatchObject({ code: 'PERMISSION_DENIED' });
      const { message } = refused as UnitFilesRefusedError;
      expect(message).toMatch(/^this host's polkit rule does not allow lit-streamd to enable unit files, so nothing was changed \(systemd refused EnableUnitFiles: /);
      expect(message).toContain(`${name}; systemd asks polkit for org.freedesktop.systemd1.manage-unit-files`);
      expect(message).toContain(`Run \`systemctl enable ${UNIT}\` on the host`);
      expect(message).toContain('docs/security.md, "Enable and Disable under the system manager"');
      expect(written(systemd)).toEqual([`EnableUnitFiles ${UNIT}`]);
      expect(systemd.sent).toEqual([]);
    },
  );

  it('answers PERMISSION_DENIED for Disable the same way, and stops nothing', async () => {
    const { systemd, controller } = setup();
    systemd.refusals.set('DisableUnitFiles', refusal('DisableUnitFiles'));
    await expect(controller.disable(REF, { now: true })).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
      message: expect.stringMatching(/^this host's polkit rule does not allow lit-streamd to disable unit files, so nothing was changed .*Run `systemctl disable lit-stream-contoso@bitcoin\.service` on the host/),
    });
    expect(written(systemd)).toEqual([`DisableUnitFiles ${UNIT}`]);
    expect(systemd.sent).toEqual([]);
  });

  it('says what is on disk when only the daemon-reload after it is refused', async () => {
    const { systemd, controller } = setup();
    systemd.refusals.set('Reload', refusal('Reload'));
    const refused = (await controller.enable(REF).catch((error: unknown) => error)) as UnitFilesRefusedError;
    expect(refused).toBeInstanceOf(UnitFilesRefusedError);
    expect(refused.code).toBe('PERMISSION_DENIED');
    expect(refused.message).toMatch(new RegExp(`^the stream's unit file was enabled \\(symlink ${WANTS}\\), but this host's polkit rule does not allow lit-streamd to reload systemd, as systemctl enable does next `));
    expect(refused.message).toContain('systemd asks polkit for org.freedesktop.systemd1.reload-daemon)); the change takes effect at the next boot or daemon-reload.');
    expect(written(systemd)).toEqual([`EnableUnitFiles ${UNIT}`, 'Reload']);
  });

  it("passes on systemd's other errors as they are", async () => {
    const { systemd, controller } = setup();
    const lost = new SystemdCallError('EnableUnitFiles', DBusErrorNames.noReply, 'no reply within 25000 ms');
    systemd.refusals.set('EnableUnitFiles', lost);
    await expect(controller.enable(REF)).rejects.toBe(lost);
  });
});
