import type { ClientReadableStream } from '@grpc/grpc-js';
import dbus from 'dbus-next';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionStatus, ActiveState, type WatchStatusResponse } from '../../gen/lit/stream/v1/stream.js';
import { unitObjectPath } from '../../src/systemd/unitObjectPath.js';
import { currentSession, forgeSignal, monitorBus, systemdSays } from './faults.js';
import { type Harness, rpc, startHarness, waitFor } from './harness.js';

/**
 * Issue 7 item 2: only systemd's own signals count. Any local user can address a signal to the
 * server's unique name (match rules do not filter unicast); the bus daemon stamps the true sender,
 * and the server accepts a signal only from the current owner of org.freedesktop.systemd1.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

const contoso = (name: string) => ({ team: 'contoso', name });
const MANAGER = { path: '/org/freedesktop/systemd1', interface: 'org.freedesktop.systemd1.Manager' };
const server = () => currentSession(h)!.connection.uniqueName!;

/** Collects a watch's messages (the whole team's when `name` is empty). */
function watch(name: string) {
  const call: ClientReadableStream<WatchStatusResponse> = h.client.watchStatus(contoso(name));
  const messages: WatchStatusResponse[] = [];
  call.on('data', (message: WatchStatusResponse) => messages.push(message));
  call.on('error', () => undefined);
  return { call, messages };
}

describe('signals forged by another connection are ignored', () => {
  it('a forged JobRemoved does not make an in-flight Start answer before systemd finished the job', async () => {
    // `slow` spends 2 s in ExecStartPre: its start job is queued for that long.
    const starting = rpc(h.client, h.client.start, contoso('slow'));
    const unit = 'lit-stream-contoso@slow.service';
    let job: [number, string] | undefined;
    await waitFor(async () => {
      const [jobs] = (await h.sandbox.withManager((m) => m.connection.call({ destination: 'org.freedesktop.systemd1', ...MANAGER, member: 'ListJobs' }))) as [[number, string, string, string, string, string][]];
      const found = jobs.find(([, name]) => name === unit);
      job = found && [found[0], found[4]];
      return job !== undefined;
    }, 5_000, 'the start job');
    await forgeSignal(h.sandbox, { destination: server(), ...MANAGER, member: 'JobRemoved', signature: 'uoss', body: [job![0], job![1], unit, 'done'] });

    const answer = await starting;
    const systemd = (await systemdSays(h.sandbox, 'contoso', ['slow'])).get('slow');
    expect(answer.status).toBe(ActionStatus.ACTION_STATUS_SUCCESS);
    expect(answer.stream?.activeState).toBe(ActiveState.ACTIVE_STATE_ACTIVE);
    expect(systemd?.activeState).toBe('active');
    await rpc(h.client, h.client.stop, contoso('slow'));
  });

  it('a forged PropertiesChanged or UnitRemoved changes nothing readers or watchers see', async () => {
    await rpc(h.client, h.client.start, contoso('bitcoin'));
    const pid = (await systemdSays(h.sandbox, 'contoso', ['bitcoin'])).get('bitcoin')?.mainPid;
    const w = watch('');
    await waitFor(() => w.messages.some((m) => m.status?.name === 'bitcoin'), 5_000, 'the initial status');
    const path = unitObjectPath('lit-stream-contoso@bitcoin.service');
    const variant = (value: string) => new dbus.Variant('s', value);
    await forgeSignal(h.sandbox, {
      destination: server(),
      path,
      interface: 'org.freedesktop.DBus.Properties',
      member: 'PropertiesChanged',
      signature: 'sa{sv}as',
      body: ['org.freedesktop.systemd1.Unit', { ActiveState: variant('failed'), SubState: variant('failed') }, []],
    });
    await forgeSignal(h.sandbox, { destination: server(), ...MANAGER, member: 'UnitRemoved', signature: 'so', body: ['lit-stream-contoso@bitcoin.service', path] });
    // A real change after the forged ones, on the same connection: once the watch has it, the
    // forged signals have been handled too.
    await h.sandbox.withManager((m) => m.StartUnit('lit-stream-contoso@ethereum.service', 'replace'));
    await waitFor(
      () => w.messages.some((m) => m.status?.name === 'ethereum' && m.status.activeState === ActiveState.ACTIVE_STATE_ACTIVE),
      5_000,
      'the real change',
    );

    const bitcoin = w.messages.filter((m) => m.status?.name === 'bitcoin').map((m) => m.status!.activeState);
    expect(bitcoin).toEqual(bitcoin.map(() => ActiveState.ACTIVE_STATE_ACTIVE));
    const { status } = await rpc(h.client, h.client.getStatus, contoso('bitcoin'));
    expect(status?.activeState).toBe(ActiveState.ACTIVE_STATE_ACTIVE);
    expect(status?.mainPid).toBe(pid);
    w.call.cancel();
    await rpc(h.client, h.client.stop, contoso('ethereum'));
  });

  it('forged UnitFilesChanged and Reloading make the server ask systemd nothing, and a forged NameOwnerChanged ends nothing', async () => {
    const session = currentSession(h);
    const monitor = await monitorBus(h.sandbox, [`type='method_call',sender='${server()}',destination='org.freedesktop.systemd1'`]);
    try {
      for (let i = 0; i < 50; i++) {
        await forgeSignal(h.sandbox, { destination: server(), ...MANAGER, member: 'UnitFilesChanged', signature: '', body: [] });
        await forgeSignal(h.sandbox, { destination: server(), ...MANAGER, member: 'Reloading', signature: 'b', body: [i % 2 === 1] });
      }
      await forgeSignal(h.sandbox, {
        destination: server(),
        path: '/org/freedesktop/DBus',
        interface: 'org.freedesktop.DBus',
        member: 'NameOwnerChanged',
        signature: 'sss',
        body: ['org.freedesktop.systemd1', session!.systemdName ?? '', ''],
      });
      // Reads still answer, on the same session.
      expect((await rpc(h.client, h.client.getStatus, contoso('bitcoin'))).status?.name).toBe('bitcoin');
      expect(currentSession(h)).toBe(session);
      await monitor.caughtUp();
      const asked = monitor.messages.filter((m) => m.member === 'ListUnitFilesByPatterns' || m.member === 'ListUnitsByPatterns');
      expect(asked.map((m) => m.member)).toEqual([]);
    } finally {
      monitor.stop();
    }
  });
});
