import { type ClientReadableStream, status } from '@grpc/grpc-js';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ActionStatus,
  ActiveState,
  LoadState,
  UsageSource,
  WatchEventKind,
  type WatchStatusResponse,
} from '../../gen/lit/stream/v1/stream.js';
import { SystemdManager, type UnitFile, type UnitInfo } from '../../src/systemd/manager.js';
import { currentSession, monitorBus, systemdSays } from './faults.js';
import { FIXTURE_UNITS, type Harness, rpc, rpcError, startHarness, waitFor } from './harness.js';

/**
 * Issue 7 items 3 and 4: what the server shows as units are loaded, unloaded, and lose their file.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    ...FIXTURE_UNITS,
    'lit-stream-contoso@doomed.service': { link: 'lit-stream-contoso@.service' },
    'lit-stream-contoso@phoenix.service': { link: 'lit-stream-contoso@.service' },
    'lit-stream-contoso@idle.service': { link: 'lit-stream-contoso@.service' },
    'lit-stream-contoso@untouched.service': { link: 'lit-stream-contoso@.service' },
    // Without cgroup accounting: tasks and memory come from the unit's cgroup and /proc.
    'lit-stream-contoso@lean.service': '[Service]\nType=exec\nExecStart=/bin/sleep infinity\nTasksAccounting=no\nMemoryAccounting=no\n',
  });
});
afterAll(async () => {
  await h?.stop();
});

const contoso = (name: string) => ({ team: 'contoso', name });
const unitOf = (name: string) => `lit-stream-contoso@${name}.service`;
const list = async () => (await rpc(h.client, h.client.listStreams, { team: 'contoso', pageSize: 0, pageToken: '' })).streams;
const listed = async (name: string) => (await list()).find((s) => s.name === name);

function watch(name: string) {
  const call: ClientReadableStream<WatchStatusResponse> = h.client.watchStatus(contoso(name));
  const messages: WatchStatusResponse[] = [];
  call.on('data', (message: WatchStatusResponse) => messages.push(message));
  call.on('error', () => undefined);
  return { call, messages, of: (stream: string) => messages.filter((m) => m.status?.name === stream) };
}

/**
 * Waits until the server notices unit files as they appear and vanish (it watches the unit
 * directories once a session is up): a stream file that comes and goes has been shown, then gone.
 */
async function unitFilesWatched(): Promise<void> {
  await h.sandbox.linkUnit(unitOf('probe'), 'lit-stream-contoso@.service');
  await waitFor(async () => (await listed('probe')) !== undefined, 10_000, 'the server to see a new unit file');
  await h.sandbox.removeUnit(unitOf('probe'));
  await waitFor(async () => (await listed('probe')) === undefined, 10_000, 'the server to see it gone');
}

/**
 * Holds the server's resynchronisation at one of its questions to systemd, once: the first answer
 * on the server's connection that `matches` is in (systemd has said it) but not yet seen by the
 * server's code, until release(). A delay of our own call's answer; systemd and the bus are real.
 */
function holdServerAnswer<T>(method: 'ListUnitFilesByPatterns' | 'ListUnitsByPatternsInOrder', matches: (answer: T) => boolean) {
  const manager = SystemdManager.prototype as unknown as Record<typeof method, (...args: unknown[]) => Promise<T>>;
  const original = manager[method];
  const server = currentSession(h)!.connection;
  let held = false;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  manager[method] = async function (this: SystemdManager, ...args: unknown[]) {
    const answer = await original.apply(this, args);
    if (!held && this.connection === server && matches(answer)) {
      held = true;
      await gate;
    }
    return answer;
  };
  return {
    reached: () => waitFor(() => held, 10_000, `the server to ask ${method}`),
    release: () => {
      manager[method] = original;
      open();
    },
  };
}

/**
 * Starts or stops a stream's unit behind the server's back, and returns once systemd is done and
 * the server's connection has received what systemd signalled meanwhile: a reply on it (a ping)
 * comes after every signal systemd sent it before.
 */
async function behindTheServer(name: string, method: 'StartUnit' | 'StopUnit', activeState: string): Promise<void> {
  await h.sandbox.withManager((m) => m[method](unitOf(name), 'replace'));
  await waitFor(async () => (await systemdSays(h.sandbox, 'contoso', [name])).get(name)?.activeState === activeState, 5_000, `systemd to have ${name} ${activeState}`);
  const session = currentSession(h)!;
  await session.connection.ping(session.systemdName!, 5_000);
}

/** Units systemd has loaded, asked without loading any. */
async function loaded(name: string): Promise<boolean> {
  return (await h.sandbox.withManager((m) => m.ListUnitsByPatterns([], [unitOf(name)]))).length > 0;
}

/**
 * Runs `read` with a monitor on the bus, then checks that systemd still has `name`'s unit unloaded
 * and that the server neither read any unit's properties (GetAll) nor made systemd load this one.
 */
async function expectNotLoadedBy(name: string, read: () => Promise<void>): Promise<void> {
  const server = currentSession(h)!.connection.uniqueName!;
  const monitor = await monitorBus(h.sandbox, [
    `type='method_call',sender='${server}',destination='org.freedesktop.systemd1'`,
    `type='signal',interface='org.freedesktop.systemd1.Manager',member='UnitNew'`,
  ]);
  try {
    await read();
    await monitor.caughtUp();
    expect(await loaded(name)).toBe(false);
    const units = monitor.messages.filter((m) => m.member === 'UnitNew').map((m) => m.body[0]);
    expect(units).not.toContain(unitOf(name));
    expect(monitor.messages.filter((m) => m.member === 'GetAll').map((m) => m.path)).toEqual([]);
  } finally {
    monitor.stop();
  }
}

describe('a stream whose unit file is removed while it runs (item 3)', () => {
  it('stays listed, readable and stoppable (not startable) while it runs, and goes away once stopped', async () => {
    const w = watch('');
    await rpc(h.client, h.client.start, contoso('doomed'));
    const pid = (await systemdSays(h.sandbox, 'contoso', ['doomed'])).get('doomed')?.mainPid;
    await waitFor(
      () => w.of('doomed').some((m) => m.status?.mainPid === pid && m.status?.activeState === ActiveState.ACTIVE_STATE_ACTIVE),
      5_000,
      'the watch to see it run',
    );

    await h.sandbox.removeUnit(unitOf('doomed'));
    await h.sandbox.reload(); // systemd keeps it running (loaded from the template it is an instance of)
    const refusal = () => rpcError(h.client, h.client.start, contoso('doomed'));
    await waitFor(async () => (await refusal()).code === status.FAILED_PRECONDITION, 2_000, 'the view to see the file gone');
    expect((await refusal()).details).toContain('can be stopped');

    expect(await listed('doomed')).toMatchObject({ activeState: ActiveState.ACTIVE_STATE_ACTIVE, subState: 'running' });
    const { status: running } = await rpc(h.client, h.client.getStatus, contoso('doomed'));
    expect(running).toMatchObject({ activeState: ActiveState.ACTIVE_STATE_ACTIVE, mainPid: pid });
    // What the watch said meanwhile: still running, never inactive or removed.
    const sinceRunning = w.of('doomed').slice(
      w.of('doomed').findIndex((m) => m.status?.mainPid === pid && m.status?.activeState === ActiveState.ACTIVE_STATE_ACTIVE),
    );
    expect(sinceRunning.map((m) => `${m.kind} ${m.status?.activeState} ${m.status?.mainPid}`)).toEqual(
      sinceRunning.map(() => `${WatchEventKind.WATCH_EVENT_KIND_CHANGED} ${ActiveState.ACTIVE_STATE_ACTIVE} ${pid}`),
    );

    const stopped = await rpc(h.client, h.client.stop, contoso('doomed'));
    expect(stopped.status).toBe(ActionStatus.ACTION_STATUS_SUCCESS);
    expect(stopped.stream?.activeState).toBe(ActiveState.ACTIVE_STATE_INACTIVE);
    expect((await systemdSays(h.sandbox, 'contoso', ['doomed'])).get('doomed')?.activeState).toBe('inactive');
    // Stopped and undeclared: gone.
    await waitFor(async () => (await listed('doomed')) === undefined, 2_000, 'the stream to be gone');
    expect((await rpcError(h.client, h.client.getStatus, contoso('doomed'))).code).toBe(status.NOT_FOUND);
    await waitFor(() => w.of('doomed').at(-1)?.kind === WatchEventKind.WATCH_EVENT_KIND_REMOVED, 2_000, 'REMOVED');
    w.call.cancel();
  });

  it('when the file comes back while it runs, it is declared again, and no change is reported without its main pid', async () => {
    await rpc(h.client, h.client.start, contoso('phoenix'));
    const pid = (await systemdSays(h.sandbox, 'contoso', ['phoenix'])).get('phoenix')?.mainPid;
    const w = watch('phoenix');
    await waitFor(() => w.messages.length >= 1, 5_000, 'the initial status');

    await h.sandbox.removeUnit(unitOf('phoenix'));
    await waitFor(async () => (await rpcError(h.client, h.client.restart, contoso('phoenix'))).code === status.FAILED_PRECONDITION, 2_000, 'the view to see the file gone');
    await h.sandbox.linkUnit(unitOf('phoenix'), 'lit-stream-contoso@.service');
    await waitFor(async () => (await rpc(h.client, h.client.start, contoso('phoenix'))).status === ActionStatus.ACTION_STATUS_SUCCESS, 2_000, 'declared again');

    // The view has judged the file back once it lists a unit file linked after it (inotify(7)
    // reports one directory's events in order). Then a real change through systemd: once the
    // watch has it, it has had everything the server sent about the file coming back.
    await unitFilesWatched();
    await h.sandbox.withManager((m) => m.StopUnit(unitOf('phoenix'), 'replace'));
    await waitFor(() => w.messages.some((m) => m.status?.activeState !== ActiveState.ACTIVE_STATE_ACTIVE), 5_000, 'the stop to reach the watch');
    const beforeTheStop = w.messages.slice(0, w.messages.findIndex((m) => m.status?.activeState !== ActiveState.ACTIVE_STATE_ACTIVE));
    expect(w.messages.map((m) => m.kind)).not.toContain(WatchEventKind.WATCH_EVENT_KIND_REMOVED);
    // Nothing changed for a watcher until the stop: the initial status alone, with its main pid —
    // no CHANGED repeating what it was told.
    expect(beforeTheStop.map((m) => [m.kind, m.status?.mainPid])).toEqual([[WatchEventKind.WATCH_EVENT_KIND_INITIAL, pid]]);
    w.call.cancel();
  });
});

describe('load state and unloads (item 4)', () => {
  it('a stream started right after a resync is listed and watched as loaded, not with no load state', async () => {
    await waitFor(async () => !(await loaded('idle')), 5_000, 'systemd to have idle unloaded');
    await h.sandbox.reload();
    const w = watch('idle');
    await waitFor(() => w.messages.length >= 1, 5_000, 'the initial status');
    await h.sandbox.withManager((m) => m.StartUnit(unitOf('idle'), 'replace'));
    await waitFor(async () => (await listed('idle'))?.activeState === ActiveState.ACTIVE_STATE_ACTIVE, 2_000, 'idle active');
    expect((await listed('idle'))?.loadState).toBe(LoadState.LOAD_STATE_LOADED);
    await rpc(h.client, h.client.start, contoso('idle'));
    expect((await listed('idle'))?.loadState).toBe(LoadState.LOAD_STATE_LOADED);
    const active = w.messages.filter((m) => m.status?.activeState === ActiveState.ACTIVE_STATE_ACTIVE);
    expect(active.length).toBeGreaterThan(0);
    expect(active.map((m) => m.status?.loadState)).toEqual(active.map(() => LoadState.LOAD_STATE_LOADED));
    w.call.cancel();
  });

  it('a unit systemd loads while the server resynchronises (a new unit file, started at once) is shown loaded and running', async () => {
    // Hold the server's resynchronisation once its listing of unit files has answered, and start
    // the unit in that gap. The server used to ask which units are loaded together with the
    // files, got "not loaded" before the start, dropped the start's signals (the unit was not
    // tracked yet) and showed it inactive.
    await unitFilesWatched();
    const hold = holdServerAnswer<UnitFile[]>('ListUnitFilesByPatterns', (files) => files.some((file) => file.path.endsWith(unitOf('newcomer'))));
    const w = watch('');
    try {
      // The file appears in one step (a rename), so inotify asks for one resynchronisation.
      const staged = join(h.sandbox.root, unitOf('newcomer'));
      await writeFile(staged, '[Service]\nType=exec\nExecStart=/bin/sleep infinity\n');
      await rename(staged, join(h.sandbox.unitDir, unitOf('newcomer')));
      await hold.reached();
      await behindTheServer('newcomer', 'StartUnit', 'active');
      hold.release();

      const truth = (await systemdSays(h.sandbox, 'contoso', ['newcomer'])).get('newcomer')!;
      await waitFor(async () => (await listed('newcomer'))?.activeState === ActiveState.ACTIVE_STATE_ACTIVE, 2_000, 'the list to show it active');
      expect(await listed('newcomer')).toMatchObject({ loadState: LoadState.LOAD_STATE_LOADED, activeState: ActiveState.ACTIVE_STATE_ACTIVE });
      const { status: s } = await rpc(h.client, h.client.getStatus, contoso('newcomer'));
      expect(s).toMatchObject({ loadState: LoadState.LOAD_STATE_LOADED, activeState: ActiveState.ACTIVE_STATE_ACTIVE, mainPid: truth.mainPid });
      await waitFor(
        () => w.of('newcomer').some((m) => m.status?.activeState === ActiveState.ACTIVE_STATE_ACTIVE && m.status?.mainPid === truth.mainPid),
        2_000,
        'the watch to show it running',
      );
    } finally {
      w.call.cancel();
      hold.release();
    }
    await rpc(h.client, h.client.stop, contoso('newcomer'));
    await h.sandbox.removeUnit(unitOf('newcomer'));
  });

  it('a stream stopped while the server resynchronises after a daemon-reload is shown stopped, not as the older listing said', async () => {
    await h.sandbox.linkUnit(unitOf('relay'), 'lit-stream-contoso@.service');
    await waitFor(async () => (await listed('relay')) !== undefined, 10_000, 'the server to see relay');
    await rpc(h.client, h.client.start, contoso('relay'));
    // Hold the server's resynchronisation after a daemon-reload once systemd has said which units
    // are loaded (relay: active), and stop relay in that gap: its signals are newer than that answer.
    const hold = holdServerAnswer<{ units: UnitInfo[] }>('ListUnitsByPatternsInOrder', ({ units }) =>
      units.some((unit) => unit.name === unitOf('relay') && unit.activeState === 'active'),
    );
    const w = watch('relay');
    try {
      await waitFor(() => w.of('relay').length > 0, 5_000, 'the watch to begin');
      await h.sandbox.reload();
      await hold.reached();
      await behindTheServer('relay', 'StopUnit', 'inactive');
      hold.release();
      // The resynchronisation goes on as the held answer returns (promise continuations), before
      // the next turn of the event loop.
      await new Promise((resolve) => setImmediate(resolve));
      const { status: s } = await rpc(h.client, h.client.getStatus, contoso('relay'));
      expect(s).toMatchObject({ activeState: ActiveState.ACTIVE_STATE_INACTIVE });
      expect(s?.mainPid ?? 0).toBe(0);
      expect((await listed('relay'))?.activeState).toBe(ActiveState.ACTIVE_STATE_INACTIVE);
      // The watch, in order: inactive after the stop, and nothing else until relay runs again.
      await rpc(h.client, h.client.start, contoso('relay'));
      const again = (await systemdSays(h.sandbox, 'contoso', ['relay'])).get('relay')!.mainPid;
      await waitFor(() => w.of('relay').some((m) => m.status?.mainPid === again), 5_000, 'the watch to see relay run again');
      const states = w.of('relay').map((m) => m.status?.activeState);
      const stopped = states.indexOf(ActiveState.ACTIVE_STATE_INACTIVE);
      const restarted = w.of('relay').findIndex((m) => m.status?.mainPid === again);
      expect(stopped).toBeGreaterThan(0);
      expect(states.slice(stopped, restarted).every((state) => state !== ActiveState.ACTIVE_STATE_ACTIVE)).toBe(true);
    } finally {
      w.call.cancel();
      hold.release();
    }
    await rpc(h.client, h.client.stop, contoso('relay'));
    await h.sandbox.removeUnit(unitOf('relay'));
  });

  it('a stream systemd unloads is shown as not loaded, not as still loaded', async () => {
    await rpc(h.client, h.client.stop, contoso('idle'));
    await waitFor(async () => !(await loaded('idle')), 10_000, 'systemd to unload idle');
    await waitFor(async () => (await listed('idle'))?.loadState === LoadState.LOAD_STATE_UNSPECIFIED, 1_000, 'the view to see it unloaded');
    const { status: s } = await rpc(h.client, h.client.getStatus, contoso('idle'));
    expect(s).toMatchObject({ loadState: LoadState.LOAD_STATE_UNSPECIFIED, activeState: ActiveState.ACTIVE_STATE_INACTIVE, subState: 'dead' });
  });

  it('reading a stream systemd has not loaded never makes systemd load it', async () => {
    await waitFor(async () => !(await loaded('idle')), 10_000, 'systemd to have idle unloaded');
    await expectNotLoadedBy('idle', async () => {
      for (let i = 0; i < 20; i++) await rpc(h.client, h.client.getStatus, contoso('idle'));
      await waitFor(async () => (await list()).some((s) => s.name === 'idle'), 1_000, 'a list');
    });
  });

  it('GetStatus with log lines of a stream systemd has not loaded does not make systemd load it', async () => {
    // Declared, never started: systemd has no reason to load it.
    expect(await loaded('untouched')).toBe(false);
    await expectNotLoadedBy('untouched', async () => {
      const response = await rpc(h.client, h.client.getStatus, { ...contoso('untouched'), logLines: 10 });
      expect(response.status).toMatchObject({ loadState: LoadState.LOAD_STATE_UNSPECIFIED, activeState: ActiveState.ACTIVE_STATE_INACTIVE });
      expect(response.logsUnavailable).toBe('');
    });
  });

  it('a stream started again behind the server after it was read failed gets its usage from its cgroup, not from D-Bus', async () => {
    // Read while failed (a failed unit stays loaded): systemd then reports no cgroup.
    await h.sandbox.withManager((m) => m.StartUnit(unitOf('lean'), 'replace'));
    await waitFor(async () => (await listed('lean'))?.activeState === ActiveState.ACTIVE_STATE_ACTIVE, 2_000, 'lean active');
    process.kill((await systemdSays(h.sandbox, 'contoso', ['lean'])).get('lean')!.mainPid!, 'SIGKILL');
    await waitFor(async () => (await listed('lean'))?.activeState === ActiveState.ACTIVE_STATE_FAILED, 2_000, 'lean failed');
    expect((await rpc(h.client, h.client.getStatus, contoso('lean'))).status?.activeState).toBe(ActiveState.ACTIVE_STATE_FAILED);
    await h.sandbox.withManager((m) => m.StartUnit(unitOf('lean'), 'replace'));
    await waitFor(async () => (await listed('lean'))?.activeState === ActiveState.ACTIVE_STATE_ACTIVE, 2_000, 'lean active');

    const server = currentSession(h)!.connection.uniqueName!;
    const monitor = await monitorBus(h.sandbox, [`type='method_call',sender='${server}',destination='org.freedesktop.systemd1'`]);
    try {
      const { status: s } = await rpc(h.client, h.client.getStatus, contoso('lean'));
      expect(s?.usageSource).toBe(UsageSource.USAGE_SOURCE_PROCFS);
      expect(s?.tasks).toBe(1);
      await monitor.caughtUp();
      expect(monitor.messages.map((m) => m.member)).not.toContain('GetUnitProcesses');
    } finally {
      monitor.stop();
    }
    await rpc(h.client, h.client.stop, contoso('lean'));
  });
});
