import { lstat, mkdir, mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeSharedClients, Stream } from '../../clients/typescript/src/index.js';
import { ActionStatus, ActiveState, type StreamSummary, type WatchStatusResponse } from '../../gen/lit/stream/v1/stream.js';
import { streamctl, userEnv } from '../support/streamctl.js';
import { type FixtureUnit, type Harness, rpc, rpcError, startHarness, waitFor } from './harness.js';

/**
 * Enable and Disable, as `systemctl enable|disable [--now]`, on the embedded systemd (252): the
 * streams that are to be enabled are declared by a symlink in the user's data directory
 * (~/.local/share/systemd/user), where `systemctl disable` leaves it.
 */
const TEMPLATE = '[Unit]\nDescription=contoso worker %i\n[Service]\nType=exec\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=default.target\n';
const UNITS: Record<string, FixtureUnit> = {
  'lit-stream-contoso@.service': TEMPLATE,
  'lit-stream-contoso@up.service': { link: 'lit-stream-contoso@.service', in: 'data' },
  'lit-stream-contoso@down.service': { link: 'lit-stream-contoso@.service', in: 'data' },
  'lit-stream-contoso@again.service': { link: 'lit-stream-contoso@.service', in: 'data' },
  'lit-stream-contoso@plain.service': '[Service]\nType=exec\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=default.target\n',
  'lit-stream-contoso@client.service': { link: 'lit-stream-contoso@.service', in: 'data' },
  'lit-stream-contoso@ctl.service': { link: 'lit-stream-contoso@.service', in: 'data' },
  'lit-stream-contoso@bare.service': '[Service]\nType=exec\nExecStart=/bin/sleep infinity\n',
  'lit-stream-contoso@aliased.service': { link: 'lit-stream-contoso@.service' },
  'lit-stream-contoso@masked.service': { link: '/dev/null' },
  // [Install] sections that reach beyond the stream: another team's unit enabled with it (Also=,
  // in the file or a drop-in), or a name of another team's made for it (Alias=).
  'lit-stream-contoso@reacher.service': '[Service]\nType=exec\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=default.target\nAlso=lit-stream-acme@victim.service\n',
  'lit-stream-contoso@renamer.service': '[Service]\nType=exec\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=default.target\nAlias=lit-stream-acme@renamer.service\n',
  'lit-stream-contoso@dropin.service': '[Service]\nType=exec\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=default.target\n',
  'lit-stream-acme@.service': TEMPLATE.replace('contoso', 'acme'),
  'lit-stream-acme@victim.service': { link: 'lit-stream-acme@.service', in: 'data' },
};

const stream = (name: string) => ({ team: 'contoso', name });
const unitOf = (name: string) => `lit-stream-contoso@${name}.service`;

let h: Harness;
let wants: string;
beforeAll(async () => {
  h = await startHarness(UNITS);
  wants = join(h.sandbox.unitDir, 'default.target.wants');
  // A drop-in's [Install] counts as the unit file's: this one reaches another team's unit.
  await mkdir(join(h.sandbox.unitDir, `${unitOf('dropin')}.d`));
  await writeFile(join(h.sandbox.unitDir, `${unitOf('dropin')}.d`, 'reach.conf'), '[Install]\nAlso=lit-stream-acme@victim.service\n');
  await h.sandbox.reload();
});
afterAll(async () => {
  closeSharedClients();
  await h?.stop();
});

async function listed(name: string): Promise<StreamSummary> {
  const { streams } = await rpc(h.client, h.client.listStreams, { team: 'contoso', pageSize: 0, pageToken: '' });
  return streams.find((s) => s.name === name)!;
}

const exists = (path: string) => lstat(path).then(() => true, () => false);

describe('Enable: the stream starts at boot, as systemctl enable', () => {
  it("creates the symlink the template's [Install] asks for and answers with systemd's change", async () => {
    const response = await rpc(h.client, h.client.enable, stream('up'));
    expect(response).toMatchObject({
      status: ActionStatus.ACTION_STATUS_SUCCESS,
      message: 'Stream enabled.',
      changes: [{ type: 'symlink', path: join(wants, unitOf('up')), destination: join(h.sandbox.unitDir, 'lit-stream-contoso@.service') }],
      jobResult: '',
      logs: [],
    });
    expect(response.stream).toMatchObject({ name: 'up', unitFileState: 'enabled', activeState: ActiveState.ACTIVE_STATE_INACTIVE });
    expect(await readlink(join(wants, unitOf('up')))).toBe(join(h.sandbox.unitDir, 'lit-stream-contoso@.service'));
    // Enable does not start it.
    expect((await h.unitState(unitOf('up'))).ActiveState).toBe('inactive');
  });

  it('succeeds and says nothing changed for an enabled stream', async () => {
    await rpc(h.client, h.client.enable, stream('again'));
    const response = await rpc(h.client, h.client.enable, stream('again'));
    expect(response).toMatchObject({ status: ActionStatus.ACTION_STATUS_SUCCESS, message: 'Stream was already enabled.', changes: [] });
    expect(response.stream?.unitFileState).toBe('enabled');
  });

  it("says so in ListStreams, GetStatus and to an open WatchStatus (systemd's UnitFilesChanged)", async () => {
    const watch = h.client.watchStatus({ team: 'contoso', name: 'down' });
    watch.on('error', () => undefined);
    const seen: WatchStatusResponse[] = [];
    watch.on('data', (message: WatchStatusResponse) => seen.push(message));
    await waitFor(() => seen.length === 1, 10_000, 'the initial status');
    expect(seen[0]!.status?.unitFileState).toBe('disabled');
    expect((await listed('down')).unitFileState).toBe('disabled');
    await rpc(h.client, h.client.enable, stream('down'));
    await waitFor(() => seen.some((m) => m.status?.unitFileState === 'enabled'), 10_000, 'the watch to be told');
    expect((await listed('down')).unitFileState).toBe('enabled');
    expect((await rpc(h.client, h.client.getStatus, stream('down'))).status?.unitFileState).toBe('enabled');
    await rpc(h.client, h.client.disable, stream('down'));
    await waitFor(() => seen.at(-1)?.status?.unitFileState === 'disabled', 10_000, 'the watch to be told of the disable');
    watch.cancel();
  });

  it('with now, also starts it, answered as Start is', async () => {
    const response = await rpc(h.client, h.client.enable, { ...stream('plain'), now: true, settle: { seconds: 0, nanos: 200_000_000 } });
    expect(response).toMatchObject({ status: ActionStatus.ACTION_STATUS_SUCCESS, message: 'Stream enabled. Stream started successfully.', jobResult: 'done' });
    expect(response.changes.map((c) => c.type)).toEqual(['symlink']);
    expect(response.stream).toMatchObject({ activeState: ActiveState.ACTIVE_STATE_ACTIVE, subState: 'running', unitFileState: 'enabled' });
    expect((await h.unitState(unitOf('plain'))).ActiveState).toBe('active');
  });
});

describe('what can be enabled', () => {
  it('a unit without [Install]: systemd 252 enables nothing and says it carries no install information', async () => {
    // systemd's own answer, asked directly: no error, no change, carries_install_info false.
    expect(await h.sandbox.withManager((manager) => manager.EnableUnitFiles([unitOf('bare')], false, false))).toEqual({ carriesInstallInfo: false, changes: [] });
  });

  it('refuses a unit without [Install] with FAILED_PRECONDITION that says what to add', async () => {
    const error = await rpcError(h.client, h.client.enable, stream('bare'));
    expect(error.code).toBe(status.FAILED_PRECONDITION);
    expect(error.details).toBe(
      `stream 'bare' of team 'contoso' cannot be enabled: ${join(h.sandbox.unitDir, unitOf('bare'))} has no [Install] section, so systemd has nothing to enable it by. Add one that says what starts it at boot: "[Install]\nWantedBy=default.target"`,
    );
    expect((await readdir(wants).catch(() => [] as string[])).filter((f) => f.includes('bare'))).toEqual([]);
  });

  it('refuses a masked stream, as Start does', async () => {
    const error = await rpcError(h.client, h.client.enable, stream('masked'));
    expect(error.code).toBe(status.FAILED_PRECONDITION);
    expect(error.details).toMatch(/^stream 'masked' of team 'contoso' is masked \(.+\); unmask lit-stream-contoso@masked\.service before you enable it$/);
  });

  it('refuses to enable or disable a stream declared by a symlink in the configuration directory, and leaves it declared', async () => {
    for (const method of [h.client.enable, h.client.disable]) {
      const error = await rpcError(h.client, method, stream('aliased'));
      expect(error.code).toBe(status.FAILED_PRECONDITION);
      expect(error.details).toContain(`it is declared by a symlink in ${h.sandbox.unitDir}`);
    }
    expect(await exists(join(h.sandbox.unitDir, unitOf('aliased')))).toBe(true);
    expect(await exists(join(wants, unitOf('aliased')))).toBe(false);
    expect(await listed('aliased')).toBeDefined();
  });

  it("refuses a unit whose [Install] names other units (Also=, Alias=): it touches no other team's unit", async () => {
    // acme enabled its own stream; contoso's Disable of a unit that says Also= of it would disable it too.
    await h.sandbox.withManager((manager) => manager.EnableUnitFiles(['lit-stream-acme@victim.service'], false, false));
    for (const [name, setting] of [['reacher', 'Also=lit-stream-acme@victim.service'], ['renamer', 'Alias=lit-stream-acme@renamer.service'], ['dropin', 'Also=lit-stream-acme@victim.service']]) {
      for (const method of [h.client.enable, h.client.disable]) {
        const error = await rpcError(h.client, method, stream(name!));
        expect(error.code).toBe(status.FAILED_PRECONDITION);
        expect(error.details).toContain(`its [Install] section names other units (${setting})`);
      }
    }
    expect(await exists(join(wants, 'lit-stream-acme@victim.service'))).toBe(true);
    expect(await exists(join(wants, unitOf('reacher')))).toBe(false);
    expect(await exists(join(wants, unitOf('dropin')))).toBe(false);
    expect(await exists(join(h.sandbox.unitDir, 'lit-stream-acme@renamer.service'))).toBe(false);
  });

  it('answers NOT_FOUND for a stream that is not declared, and INVALID_ARGUMENT for a bad request', async () => {
    expect((await rpcError(h.client, h.client.enable, stream('ghost'))).code).toBe(status.NOT_FOUND);
    expect((await rpcError(h.client, h.client.disable, stream('ghost'))).code).toBe(status.NOT_FOUND);
    expect((await rpcError(h.client, h.client.enable, { team: 'Contoso!', name: 'up' })).code).toBe(status.INVALID_ARGUMENT);
    expect((await rpcError(h.client, h.client.disable, { team: 'contoso', name: 'a/b' })).code).toBe(status.INVALID_ARGUMENT);
    expect((await rpcError(h.client, h.client.enable, { ...stream('up'), now: true, settle: { seconds: -1, nanos: 0 } })).code).toBe(status.INVALID_ARGUMENT);
  });
});

describe('Disable: no longer at boot, as systemctl disable', () => {
  it("removes the symlink, keeps the stream's declaration, and says nothing changed the second time", async () => {
    await rpc(h.client, h.client.enable, stream('again'));
    const response = await rpc(h.client, h.client.disable, stream('again'));
    expect(response).toMatchObject({
      status: ActionStatus.ACTION_STATUS_SUCCESS,
      message: 'Stream disabled.',
      changes: [{ type: 'unlink', path: join(wants, unitOf('again')), destination: '' }],
      jobResult: '',
    });
    expect(response.stream?.unitFileState).toBe('disabled');
    expect(await exists(join(h.sandbox.dataUnitDir, unitOf('again')))).toBe(true);
    expect(await exists(join(wants, unitOf('again')))).toBe(false);
    expect(await rpc(h.client, h.client.disable, stream('again'))).toMatchObject({ message: 'Stream was not enabled.', changes: [] });
  });

  it('with now, also stops it, answered as Stop is', async () => {
    await rpc(h.client, h.client.enable, { ...stream('plain'), now: true, settle: { seconds: 0, nanos: 0 } });
    const response = await rpc(h.client, h.client.disable, { ...stream('plain'), now: true });
    expect(response).toMatchObject({ status: ActionStatus.ACTION_STATUS_SUCCESS, message: 'Stream disabled. Stream stopped successfully.', jobResult: 'done' });
    expect(response.stream).toMatchObject({ activeState: ActiveState.ACTIVE_STATE_INACTIVE, unitFileState: 'disabled' });
  });
});

describe('the clients', () => {
  it('TypeScript: stream.enable({ now }) and disable() answer with the changes and the state', async () => {
    const client = new Stream('contoso', 'client', { address: h.address });
    const enabled = await client.enable({ now: true });
    expect(enabled).toMatchObject({ status: 'SUCCESS', message: 'Stream enabled. Stream started successfully.', jobResult: 'done', unitFileState: 'enabled' });
    expect(enabled.changes).toEqual([{ type: 'symlink', path: join(wants, unitOf('client')), destination: join(h.sandbox.unitDir, 'lit-stream-contoso@.service') }]);
    expect((await client.status()).details.unitFileState).toBe('enabled');
    expect(await client.disable()).toEqual({
      status: 'SUCCESS',
      message: 'Stream disabled.',
      jobResult: '',
      logs: [],
      changes: [{ type: 'unlink', path: join(wants, unitOf('client')), destination: '' }],
      unitFileState: 'disabled',
    });
    await client.stop();
  });

  it("lit-streamctl enable --now prints systemd's symlink as systemctl does; status and list say enabled", async () => {
    const env = userEnv({ LIT_STREAM_ADDR: h.address });
    const enable = await streamctl(['enable', '--now', 'contoso/ctl'], env);
    expect(enable).toEqual({
      code: 0,
      stdout: `Created symlink ${join(wants, unitOf('ctl'))} → ${join(h.sandbox.unitDir, 'lit-stream-contoso@.service')}.\ncontoso/ctl: Stream enabled. Stream started successfully.\n`,
      stderr: '',
    });
    const status = await streamctl(['status', 'contoso/ctl'], env);
    expect(status.stdout).toContain(`     Loaded: loaded (${unitOf('ctl')}; enabled)\n`);
    const list = await streamctl(['list', 'contoso'], env);
    expect(list.stdout).toMatch(/^\s+NAME\s+LOAD\s+ENABLED\s+ACTIVE/);
    expect(list.stdout).toMatch(/\n\s+ctl\s+loaded\s+enabled\s+active\s+running/);
    const disable = await streamctl(['disable', '--now', '-o', 'json', 'contoso/ctl'], env);
    expect(disable.code).toBe(0);
    expect(JSON.parse(disable.stdout)).toEqual({
      team: 'contoso',
      name: 'ctl',
      action: 'disable',
      status: 'SUCCESS',
      message: 'Stream disabled. Stream stopped successfully.',
      changes: [{ type: 'unlink', path: join(wants, unitOf('ctl')), destination: '' }],
      unitFileState: 'disabled',
      jobResult: 'done',
    });
    const refused = await streamctl(['enable', 'contoso/bare', 'contoso/ghost'], env);
    // systemctl's codes: 1 for a refusal the server explains, 5 for no such stream; the first one named decides.
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('has no [Install] section');
  });
});

describe('proof by reboot: an enabled stream comes up by itself, a disabled one does not', () => {
  let disk: string;
  let first: Harness | undefined;
  let second: Harness | undefined;
  beforeAll(async () => {
    disk = await mkdtemp(join(tmpdir(), 'lit-stream-disk-'));
  });
  afterAll(async () => {
    await first?.stop();
    await second?.stop();
    await rm(disk, { recursive: true, force: true });
  });

  it('boots a new systemd over the same unit directories and finds the enabled stream running', async () => {
    const units: Record<string, FixtureUnit> = {
      'lit-stream-contoso@.service': TEMPLATE,
      'lit-stream-contoso@up.service': { link: 'lit-stream-contoso@.service', in: 'data' },
      'lit-stream-contoso@down.service': { link: 'lit-stream-contoso@.service', in: 'data' },
    };
    first = await startHarness(units, {}, { disk });
    await rpc(first.client, first.client.enable, stream('up'));
    await rpc(first.client, first.client.enable, stream('down'));
    expect((await rpc(first.client, first.client.disable, stream('down'))).changes.map((c) => c.type)).toEqual(['unlink']);
    // Neither runs before the reboot.
    expect((await first.unitState(unitOf('up'))).ActiveState).toBe('inactive');
    await first.stop();
    first = undefined;

    // The new manager starts default.target and what it wants as it boots; the boot is over when
    // its SystemState is `running` (EmbeddedSystemd.boot waits for that).
    second = await startHarness({}, {}, { disk });
    const { streams } = await rpc(second.client, second.client.listStreams, { team: 'contoso', pageSize: 0, pageToken: '' });
    expect(streams.map(({ name, activeState, unitFileState }) => ({ name, activeState, unitFileState }))).toEqual([
      { name: 'down', activeState: ActiveState.ACTIVE_STATE_INACTIVE, unitFileState: 'disabled' },
      { name: 'up', activeState: ActiveState.ACTIVE_STATE_ACTIVE, unitFileState: 'enabled' },
    ]);
    const up = await second.unitState(unitOf('up'));
    expect(up.SubState).toBe('running');
    expect(up.MainPID).toBeGreaterThan(0);
  });
});
