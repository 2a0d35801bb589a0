import type { EventEmitter } from 'node:events';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionStatus, ActiveState, WatchEventKind } from '../../gen/lit/stream/v1/stream.js';
import { SystemdManager } from '../../src/systemd/manager.js';
import {
  allowBusRestarts,
  busConnectionsOf,
  converged,
  currentSession,
  differencesFromSystemd,
  killBusDaemon,
  monitorBus,
  reconnected,
  reexecuteSystemd,
  restartBusWithMatchRuleLimit,
  systemdSays,
  type TeamWatch,
  watchTeam,
} from './faults.js';
import { FIXTURE_UNITS, type Harness, rpc, rpcError, startHarness, waitFor } from './harness.js';

/**
 * Issue 7 item 1: after a reconnect — the bus daemon restarted, or systemd replaced on the bus —
 * every read and watch matches systemd within a second ("within 1 s" is the promise; the waits
 * below allow 2 s for a loaded CI machine).
 */
let h: Harness;
const STREAMS = ['bitcoin', 'ethereum', 'slow', 'crash'];
beforeAll(async () => {
  // Without a start rate limit: the specs restart streams many times in a row (systemd's default
  // allows 5 starts in 10 s, then the unit fails with start-limit-hit).
  h = await startHarness({
    ...FIXTURE_UNITS,
    'lit-stream-contoso@.service': '[Unit]\nStartLimitIntervalSec=0\n[Service]\nType=exec\nExecStart=/bin/sleep infinity\n',
  });
  await allowBusRestarts(h.sandbox);
});
afterAll(async () => {
  await h?.stop();
});

const contoso = (name: string) => ({ team: 'contoso', name });

/**
 * Whether the server's view matches systemd, judged first by what cannot repair it (ListStreams,
 * and watches opened before the fault), then GetStatus too: [] once all agree.
 */
const convergedWith = (...watches: TeamWatch[]) => converged(h, 'contoso', STREAMS, watches);

describe('after the bus daemon is killed and socket-activated again', () => {
  it('a Stop after a few hundred messages on the old connection answers with what systemd did, and reads agree', async () => {
    await rpc(h.client, h.client.start, contoso('bitcoin'));
    // ~10 messages per Restart (PropertiesChanged of two interfaces per transition, JobNew,
    // JobRemoved, the reply): a few hundred messages numbered on the server's connection.
    for (let i = 0; i < 30; i++) await rpc(h.client, h.client.restart, contoso('bitcoin'));
    const before = currentSession(h);
    await killBusDaemon(h.sandbox);
    await reconnected(h, before);

    const stopped = await rpc(h.client, h.client.stop, contoso('bitcoin'));
    expect(stopped.status).toBe(ActionStatus.ACTION_STATUS_SUCCESS);
    expect(stopped.stream?.activeState).toBe(ActiveState.ACTIVE_STATE_INACTIVE);
    expect(stopped.stream?.subState).toBe('dead');
    const { status: after } = await rpc(h.client, h.client.getStatus, contoso('bitcoin'));
    expect(after?.activeState).toBe(ActiveState.ACTIVE_STATE_INACTIVE);
    expect(await differencesFromSystemd(h, 'contoso', STREAMS)).toEqual([]);
  });

  it('every read and watch matches systemd within a second of reconnecting, changes made while disconnected included', async () => {
    await rpc(h.client, h.client.start, contoso('bitcoin'));
    await rpc(h.client, h.client.start, contoso('ethereum'));
    for (let i = 0; i < 20; i++) await rpc(h.client, h.client.restart, contoso('ethereum'));
    const watch = watchTeam(h, 'contoso');
    await waitFor(() => STREAMS.every((name) => watch.lastSeen().has(name)), 5_000, 'the initial statuses');
    const { status: eth } = await rpc(h.client, h.client.getStatus, contoso('ethereum'));

    const before = currentSession(h);
    // Behind the server's back while it has no connection: a worker dies (the bus is down, so
    // nothing can tell the server), then another stream stops.
    await killBusDaemon(h.sandbox, () => void process.kill(eth!.mainPid!, 'SIGKILL'));
    await h.sandbox.withManager((m) => m.StopUnit('lit-stream-contoso@bitcoin.service', 'replace'));
    await reconnected(h, before);

    // ListStreams and the open watch first: a GetStatus would re-read the units it inspects.
    expect(await convergedWith(watch)).toEqual([]);
    expect((await systemdSays(h.sandbox, 'contoso', ['ethereum'])).get('ethereum')?.activeState).toBe('failed');
    expect(watch.messages.every((m) => m.kind !== WatchEventKind.WATCH_EVENT_KIND_REMOVED)).toBe(true);
    watch.call.cancel();
    await rpc(h.client, h.client.stop, contoso('ethereum'));
  });
});

describe('after systemd is replaced on the bus (daemon-reexec: a new owner of org.freedesktop.systemd1)', () => {
  it('reads and watches match what the new instance does', async () => {
    await rpc(h.client, h.client.start, contoso('bitcoin'));
    for (let i = 0; i < 20; i++) await rpc(h.client, h.client.restart, contoso('bitcoin'));
    const watch = watchTeam(h, 'contoso');
    await waitFor(() => STREAMS.every((name) => watch.lastSeen().has(name)), 5_000, 'the initial statuses');
    await reexecuteSystemd(h.sandbox);

    // Changes by the new systemd instance, not through the server.
    await h.sandbox.withManager((m) => m.StopUnit('lit-stream-contoso@bitcoin.service', 'replace'));
    await h.sandbox.withManager((m) => m.StartUnit('lit-stream-contoso@ethereum.service', 'replace'));
    expect(await convergedWith(watch)).toEqual([]);
    watch.call.cancel();
    expect((await rpc(h.client, h.client.stop, contoso('ethereum'))).status).toBe(ActionStatus.ACTION_STATUS_SUCCESS);
  });
});

describe('systemd replaced while a session opens', () => {
  it('that session never opens; the next subscribes with the new instance at its unique name, and reads follow it', async () => {
    const monitor = await monitorBus(h.sandbox, ["type='method_call',interface='org.freedesktop.systemd1.Manager',member='Subscribe'"]);
    // Hold the next session's Subscribe — it has learnt which systemd owns the name — until
    // another instance owns it (a delay of our own message; systemd and the bus are real).
    const subscribe = SystemdManager.prototype.Subscribe;
    let held: SystemdManager | undefined;
    let reached!: () => void;
    const atSubscribe = new Promise<void>((resolve) => (reached = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    SystemdManager.prototype.Subscribe = async function (this: SystemdManager, ...args: Parameters<typeof subscribe>) {
      if (!held) {
        // eslint-disable-next-line @typescript-eslint/no-this-alias -- which manager is held, not a closure's `self`
        held = this;
        reached();
        await gate;
      }
      return subscribe.apply(this, args);
    };
    try {
      const before = currentSession(h)!;
      before.close(new Error('spec: reconnect'));
      await atSubscribe;
      const systemdNow = await reexecuteSystemd(h.sandbox);
      // A reply on the held session's connection comes after the owner changes it was sent: once
      // it is in, that session has seen them.
      await held!.connection.getNameOwner('org.freedesktop.systemd1').catch(() => undefined);
      release();

      const after = await reconnected(h, before);
      expect(after.connection).not.toBe(held!.connection);
      expect(h.logs.some((line) => String(line.err).includes('systemd changed on the bus while the session was opening'))).toBe(true);
      expect(after.systemdName).toBe(systemdNow);
      // The session in use subscribed with the instance it accepts signals from, by its unique name.
      const subscribes = monitor.messages.filter((m) => m.sender === after.connection.uniqueName);
      expect(subscribes.map((m) => m.destination)).toEqual([systemdNow]);
      // And its signals reach the view: a change made by the new instance, not through the server.
      await h.sandbox.withManager((m) => m.StartUnit('lit-stream-contoso@ethereum.service', 'replace'));
      expect(await convergedWith()).toEqual([]);
      await rpc(h.client, h.client.stop, contoso('ethereum'));
    } finally {
      SystemdManager.prototype.Subscribe = subscribe;
      release();
      monitor.stop();
    }
  });
});

describe('no connection leaks (issue 7 item 10)', () => {
  it('a dbus-next error that leaves the socket open closes that connection for real: after many such reconnects the server has exactly one connection on the bus', async () => {
    for (let i = 0; i < 8; i++) {
      const before = currentSession(h)!;
      // What dbus-next does when it cannot read a message or write after the end: 'error', with the
      // socket left as it is.
      (before.connection as unknown as { bus: EventEmitter }).bus.emit('error', new Error('a message dbus-next could not read'));
      await reconnected(h, before);
    }
    // The bus daemon's own count (the test process is the server's process).
    expect(await busConnectionsOf(h.sandbox, process.pid)).toEqual([currentSession(h)!.connection.uniqueName]);
    expect(await convergedWith()).toEqual([]);
  });
});

describe('a session is up only once all of it is in place (issue 7 item 10)', () => {
  it('while the bus refuses one of the match rules, the server is not serving and keeps retrying; once it accepts them, it serves', async () => {
    const before = currentSession(h);
    const logged = h.logs.length;
    const retries = () => h.logs.slice(logged).filter((line) => line.msg === 'could not open a session with systemd; retrying').length;
    try {
      await restartBusWithMatchRuleLimit(h.sandbox, 1);
      await waitFor(() => currentSession(h) !== before, 5_000, 'the old session to end');
      await waitFor(() => retries() >= 2 || currentSession(h) !== undefined, 15_000, 'the server to retry, or to come up');
      expect(currentSession(h)).toBeUndefined();
      const refused = await rpcError(h.client, h.client.getStatus, contoso('bitcoin'));
      expect(refused.code).toBe(status.UNAVAILABLE);
      expect(refused.details).toContain('LimitsExceeded');
    } finally {
      await restartBusWithMatchRuleLimit(h.sandbox, undefined);
    }
    await reconnected(h, before);
    // Every rule is in place: a change made with systemctl reaches the view.
    await h.sandbox.withManager((m) => m.StartUnit('lit-stream-contoso@ethereum.service', 'replace'));
    expect(await convergedWith()).toEqual([]);
    await rpc(h.client, h.client.stop, contoso('ethereum'));
  });
});

describe('codes while the bus drops (issue 7 item 9)', () => {
  it('reads in flight when the bus daemon dies, and those that arrive before the server reconnects, answer UNAVAILABLE — never INTERNAL or NOT_FOUND', async () => {
    await rpc(h.client, h.client.start, contoso('bitcoin'));
    const before = currentSession(h);
    const codes = new Map<status, number>();
    let stop = false;
    const reader = async (name: string) => {
      while (!stop) {
        const code = await rpc(h.client, h.client.getStatus, contoso(name)).then(
          () => status.OK,
          (error: { code: number }) => error.code,
        );
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
    };
    const readers = Array.from({ length: 8 }, (_, i) => reader(STREAMS[i % STREAMS.length]!));
    // Unit files changing meanwhile: readers then wait for the server to catch up with them, so
    // some are waiting when the bus drops.
    const touching = (async () => {
      for (let i = 0; !stop; i++) {
        await h.sandbox.writeUnit('lit-stream-contoso@churn.service', `[Service]\nExecStart=/bin/sleep ${i}\n`);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    try {
      await waitFor(() => (codes.get(status.OK) ?? 0) > 20, 5_000, 'reads to flow');
      await killBusDaemon(h.sandbox);
      await reconnected(h, before);
      const okBefore = codes.get(status.OK) ?? 0;
      await waitFor(() => (codes.get(status.OK) ?? 0) > okBefore + 50, 5_000, 'reads to flow again');
    } finally {
      stop = true;
      await Promise.all([...readers, touching]);
      await h.sandbox.removeUnit('lit-stream-contoso@churn.service');
    }
    expect([...codes.keys()].filter((code) => code !== status.OK && code !== status.UNAVAILABLE)).toEqual([]);
    expect(codes.get(status.UNAVAILABLE) ?? 0).toBeGreaterThan(0);
  });
});
