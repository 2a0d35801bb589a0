import { credentials, type ClientReadableStream, status } from '@grpc/grpc-js';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeSharedClients, Stream, watchStreams } from '../../clients/typescript/src/index.js';
import {
  ActiveState,
  StreamServiceClient,
  WatchEventKind,
  type WatchStatusResponse,
} from '../../gen/lit/stream/v1/stream.js';
import { currentSession, monitorBus, reconnected } from './faults.js';
import { FIXTURE_UNITS, type Harness, rpc, startHarness, waitFor } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ ...FIXTURE_UNITS, 'lit-stream-contoso@restarting.service': '[Service]\nType=exec\nExecStart=/bin/sleep infinity\nRestart=always\nRestartSec=5\n' });
});
afterAll(async () => {
  closeSharedClients();
  await h?.stop();
});

const contoso = (name: string) => ({ team: 'contoso', name });
const status_ = async (name: string) => (await rpc(h.client, h.client.getStatus, contoso(name))).status!;
const listed = async (name: string) =>
  (await rpc(h.client, h.client.listStreams, { team: 'contoso', pageSize: 0, pageToken: '' })).streams.find((s) => s.name === name);

/** Collects a watch's messages. */
function watch(request: { team: string; name: string }, client = h.client) {
  const call: ClientReadableStream<WatchStatusResponse> = client.watchStatus(request);
  const messages: WatchStatusResponse[] = [];
  call.on('data', (message: WatchStatusResponse) => messages.push(message));
  const ended = new Promise<{ code: number; details: string }>((resolve) => {
    call.on('error', (error: { code: number; details: string }) => resolve(error));
    call.on('end', () => resolve({ code: status.OK, details: '' }));
  });
  return { call, messages, ended };
}

/** Match rules the server's own D-Bus connection holds, from the bus daemon's statistics. */
async function serverMatchRules(): Promise<number> {
  const uniqueName = h.server.link.session().connection.uniqueName;
  const [stats] = (await h.sandbox.withManager((m) =>
    m.connection.call({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus.Debug.Stats',
      member: 'GetConnectionStats',
      signature: 's',
      body: [uniqueName],
    }),
  )) as [{ MatchRules: { value: number } }];
  return stats.MatchRules.value;
}

describe('read-your-writes: after Start, Stop or Restart returns, every read reflects it', () => {
  it('Start → GetStatus and ListStreams show it running at once', async () => {
    await rpc(h.client, h.client.start, contoso('bitcoin'));
    expect((await status_('bitcoin')).activeState).toBe(ActiveState.ACTIVE_STATE_ACTIVE);
    expect((await listed('bitcoin'))?.activeState).toBe(ActiveState.ACTIVE_STATE_ACTIVE);
  });

  it('Restart → the new main pid at once', async () => {
    const before = (await status_('bitcoin')).mainPid;
    await rpc(h.client, h.client.restart, contoso('bitcoin'));
    const after = (await status_('bitcoin')).mainPid;
    expect(after).not.toBe(before);
    expect(after).toBe((await h.unitState('lit-stream-contoso@bitcoin.service')).MainPID);
  });

  it('Stop → inactive at once', async () => {
    await rpc(h.client, h.client.stop, contoso('bitcoin'));
    expect((await status_('bitcoin')).activeState).toBe(ActiveState.ACTIVE_STATE_INACTIVE);
    expect((await listed('bitcoin'))?.activeState).toBe(ActiveState.ACTIVE_STATE_INACTIVE);
  });
});

describe('changes made behind the server\'s back', () => {
  it('a worker killed from outside shows as failed within a second', async () => {
    await rpc(h.client, h.client.start, contoso('ethereum'));
    const pid = (await status_('ethereum')).mainPid!;
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await waitFor(async () => (await status_('ethereum')).activeState === ActiveState.ACTIVE_STATE_FAILED, 1_000, 'failed');
    expect(Date.now() - killedAt).toBeLessThan(1_000);
    expect((await status_('ethereum')).result).toBe('signal');
  });

  it('a worker with Restart=always killed from outside shows auto-restart within a second', async () => {
    await rpc(h.client, h.client.start, contoso('restarting'));
    process.kill((await status_('restarting')).mainPid!, 'SIGKILL');
    await waitFor(async () => (await status_('restarting')).subState === 'auto-restart', 1_000, 'auto-restart');
    await rpc(h.client, h.client.stop, contoso('restarting'));
  });

  it('a stream started with systemctl, not through us, shows as running', async () => {
    await h.sandbox.withManager((m) => m.StartUnit('lit-stream-contoso@bitcoin.service', 'replace'));
    await waitFor(async () => (await status_('bitcoin')).activeState === ActiveState.ACTIVE_STATE_ACTIVE, 1_000, 'active');
    await h.sandbox.withManager((m) => m.StopUnit('lit-stream-contoso@bitcoin.service', 'replace'));
  });

  it('a unit file that appears is a stream without a daemon-reload, and is gone when the file is', async () => {
    await h.sandbox.linkUnit('lit-stream-contoso@dogecoin.service', 'lit-stream-contoso@.service');
    await waitFor(async () => (await listed('dogecoin')) !== undefined, 2_000, 'dogecoin to be listed');
    expect((await status_('dogecoin')).unit).toBe('lit-stream-contoso@dogecoin.service');
    await h.sandbox.removeUnit('lit-stream-contoso@dogecoin.service');
    await waitFor(async () => (await listed('dogecoin')) === undefined, 2_000, 'dogecoin to be gone');
  });

  it("a team's template that goes takes the team's streams with it, without a daemon-reload; they come back with it", async () => {
    const template = '[Service]\nType=exec\nExecStart=/bin/sleep infinity\n';
    const zeta = async () => (await rpc(h.client, h.client.listStreams, { team: 'zeta', pageSize: 0, pageToken: '' })).streams.map((s) => s.name);
    await h.sandbox.writeUnit('lit-stream-zeta@.service', template);
    await h.sandbox.linkUnit('lit-stream-zeta@one.service', 'lit-stream-zeta@.service');
    try {
      await waitFor(async () => (await zeta()).includes('one'), 5_000, 'zeta/one to be listed');
      await h.sandbox.removeUnit('lit-stream-zeta@.service');
      await waitFor(async () => (await zeta()).length === 0, 5_000, "zeta/one to be gone with its template");
      await h.sandbox.writeUnit('lit-stream-zeta@.service', template);
      await waitFor(async () => (await zeta()).includes('one'), 5_000, 'zeta/one to be back with its template');
    } finally {
      await h.sandbox.removeUnit('lit-stream-zeta@one.service');
      await h.sandbox.removeUnit('lit-stream-zeta@.service');
    }
  });

  it('a file in the unit directory that cannot be a stream\'s unit file costs no resynchronisation; a stream\'s unit file does', async () => {
    // The server watches the unit directories once its session is up: a stream file that comes
    // and goes has been seen both ways.
    await h.sandbox.linkUnit('lit-stream-contoso@probe.service', 'lit-stream-contoso@.service');
    await waitFor(async () => (await listed('probe')) !== undefined, 2_000, 'probe to be listed');
    await h.sandbox.removeUnit('lit-stream-contoso@probe.service');
    await waitFor(async () => (await listed('probe')) === undefined, 2_000, 'probe to be gone');
    // Each resynchronisation lists the unit files; the bus shows its monitor every such call.
    const server = currentSession(h)!.connection.uniqueName;
    const monitor = await monitorBus(h.sandbox, ["type='method_call',interface='org.freedesktop.systemd1.Manager',member='ListUnitFilesByPatterns'"]);
    const unrelated = ['notes.txt', 'other.service', '.lit-stream-contoso@bitcoin.service.swp', 'lit-stream-contoso@bitcoin.service~'];
    try {
      for (const name of unrelated) await writeFile(join(h.sandbox.unitDir, name), '[Service]\nExecStart=/bin/true\n');
      // Then a stream's unit file: inotify(7) reports one directory's events in order, so the
      // server has seen the others by the time it sees this one.
      await h.sandbox.linkUnit('lit-stream-contoso@polkadot.service', 'lit-stream-contoso@.service');
      await waitFor(async () => (await listed('polkadot')) !== undefined, 2_000, 'polkadot to be listed');
      await monitor.caughtUp(); // every call the server made for the files above is in
      expect(monitor.messages.filter((m) => m.sender === server)).toHaveLength(1);
    } finally {
      monitor.stop();
      for (const name of unrelated) await rm(join(h.sandbox.unitDir, name), { force: true });
      await h.sandbox.removeUnit('lit-stream-contoso@polkadot.service');
    }
    await waitFor(async () => (await listed('polkadot')) === undefined, 2_000, 'polkadot to be gone');
  });

  it('a unit file that appears just as the server (re)connects is a stream too', async () => {
    const before = currentSession(h);
    before!.close(new Error('spec: reconnect'));
    await reconnected(h, before);
    // At once: the server has just begun to resynchronise, and to watch the unit directories.
    await h.sandbox.linkUnit('lit-stream-contoso@cardano.service', 'lit-stream-contoso@.service');
    try {
      await waitFor(async () => (await listed('cardano')) !== undefined, 5_000, 'cardano to be listed');
    } finally {
      await h.sandbox.removeUnit('lit-stream-contoso@cardano.service'); // later specs know no cardano
    }
    await waitFor(async () => (await listed('cardano')) === undefined, 5_000, 'cardano to be gone');
  });

  it('a daemon-reload keeps answers right: a reloaded, changed unit is still listed with its state', async () => {
    await rpc(h.client, h.client.start, contoso('bitcoin'));
    await h.sandbox.reload();
    expect((await listed('bitcoin'))?.activeState).toBe(ActiveState.ACTIVE_STATE_ACTIVE);
    expect((await status_('bitcoin')).mainPid).toBe((await h.unitState('lit-stream-contoso@bitcoin.service')).MainPID);
    await rpc(h.client, h.client.stop, contoso('bitcoin'));
  });
});

describe('WatchStatus', () => {
  it('sends the current status of each of the team\'s streams first, then changes in order', async () => {
    const w = watch({ team: 'contoso', name: '' });
    const declared = (await rpc(h.client, h.client.listStreams, { team: 'contoso', pageSize: 0, pageToken: '' })).streams.length;
    await waitFor(() => w.messages.length >= declared, 2_000, 'the initial snapshot');
    const initial = w.messages.slice(0, declared);
    expect(initial.every((m) => m.kind === WatchEventKind.WATCH_EVENT_KIND_INITIAL)).toBe(true);
    expect(initial.map((m) => m.status?.name).sort()).toEqual(
      (await rpc(h.client, h.client.listStreams, { team: 'contoso', pageSize: 0, pageToken: '' })).streams.map((s) => s.name),
    );

    await rpc(h.client, h.client.start, contoso('bitcoin'));
    await rpc(h.client, h.client.stop, contoso('bitcoin'));
    await waitFor(
      () => {
        const states = w.messages.slice(declared).filter((m) => m.status?.name === 'bitcoin').map((m) => m.status!.activeState);
        return states.lastIndexOf(ActiveState.ACTIVE_STATE_INACTIVE) > states.indexOf(ActiveState.ACTIVE_STATE_ACTIVE) && states.includes(ActiveState.ACTIVE_STATE_ACTIVE);
      },
      2_000,
      'bitcoin to be reported started, then stopped',
    );
    const bitcoin = w.messages.slice(declared).filter((m) => m.status?.name === 'bitcoin').map((m) => m.status!.activeState);
    // In order: it became active before it became inactive again, and ended inactive.
    expect(bitcoin.indexOf(ActiveState.ACTIVE_STATE_ACTIVE)).toBeGreaterThanOrEqual(0);
    expect(bitcoin.lastIndexOf(ActiveState.ACTIVE_STATE_INACTIVE)).toBeGreaterThan(bitcoin.indexOf(ActiveState.ACTIVE_STATE_ACTIVE));
    expect(bitcoin.at(-1)).toBe(ActiveState.ACTIVE_STATE_INACTIVE);
    w.call.cancel();
  });

  it('watches one stream only when a name is given', async () => {
    const w = watch(contoso('ethereum'));
    await waitFor(() => w.messages.length >= 1, 2_000, 'the initial status');
    await rpc(h.client, h.client.start, contoso('bitcoin'));
    await rpc(h.client, h.client.start, contoso('ethereum'));
    await waitFor(() => w.messages.some((m) => m.status?.activeState === ActiveState.ACTIVE_STATE_ACTIVE), 2_000, 'ethereum active');
    expect(w.messages.every((m) => m.status?.name === 'ethereum')).toBe(true);
    w.call.cancel();
    await rpc(h.client, h.client.stop, contoso('bitcoin'));
    await rpc(h.client, h.client.stop, contoso('ethereum'));
  });

  it('rejects a bad team or name with INVALID_ARGUMENT', async () => {
    expect((await watch({ team: 'Contoso', name: '' }).ended).code).toBe(status.INVALID_ARGUMENT);
    expect((await watch({ team: 'contoso', name: 'a.b' }).ended).code).toBe(status.INVALID_ARGUMENT);
  });

  it('serves many watchers from one D-Bus subscription, and cleans up when they cancel', async () => {
    const rulesBefore = await serverMatchRules();
    const watchersBefore = h.server.view.watcherCount;
    const clients = Array.from({ length: 4 }, (_, i) => new StreamServiceClient(h.address, credentials.createInsecure(), { 'grpc.channel_id': i }));
    const watches = Array.from({ length: 100 }, (_, i) => watch(contoso('bitcoin'), clients[i % clients.length]));
    await waitFor(() => watches.every((w) => w.messages.length >= 1), 5_000, 'every watcher to get its initial status');
    expect(h.server.view.watcherCount).toBe(watchersBefore + 100);
    expect(await serverMatchRules()).toBe(rulesBefore);

    await rpc(h.client, h.client.start, contoso('bitcoin'));
    await waitFor(
      () => watches.every((w) => w.messages.some((m) => m.status?.activeState === ActiveState.ACTIVE_STATE_ACTIVE)),
      5_000,
      'every watcher to see bitcoin start',
    );
    for (const w of watches) w.call.cancel();
    await waitFor(() => h.server.view.watcherCount === watchersBefore, 5_000, 'the watchers to be removed');
    expect(await serverMatchRules()).toBe(rulesBefore);
    for (const client of clients) client.close();
    await rpc(h.client, h.client.stop, contoso('bitcoin'));
  });
});

describe('the client library\'s watch', () => {
  it('for await over stream.watch() yields the initial status, then changes', async () => {
    process.env.LIT_STREAM_ADDR = h.address;
    const seen: string[] = [];
    const watching = (async () => {
      for await (const event of new Stream('contoso', 'bitcoin').watch()) {
        seen.push(`${event.kind} ${event.status.active}`);
        if (event.kind === 'CHANGED' && event.status.active === 'active') break;
      }
    })();
    await waitFor(() => seen.length >= 1, 2_000, 'the initial event');
    expect(seen[0]).toBe('INITIAL inactive');
    await rpc(h.client, h.client.start, contoso('bitcoin'));
    await watching;
    expect(seen.at(-1)).toBe('CHANGED active');
    await rpc(h.client, h.client.stop, contoso('bitcoin'));
  });

  it('watchStreams(team) reports a stream declared after the watch began', async () => {
    const events: string[] = [];
    const watching = (async () => {
      for await (const event of watchStreams('contoso', { address: h.address })) {
        events.push(`${event.kind} ${event.status.name}`);
        if (event.status.name === 'solana') break;
      }
    })();
    await waitFor(() => events.length >= 1, 2_000, 'the initial events');
    await h.sandbox.linkUnit('lit-stream-contoso@solana.service', 'lit-stream-contoso@.service');
    await watching;
    expect(events.at(-1)).toBe('CHANGED solana');
  });
});
