import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import dbus from 'dbus-next';
import { activeStateWord } from '../../src/core/stateNames.js';
import { BusConnection } from '../../src/systemd/busConnection.js';
import { pidsIn } from '../../src/systemd/cgroups.js';
import type { EmbeddedSystemd } from '../../src/systemd/embeddedSystemd.js';
import { SystemdManager } from '../../src/systemd/manager.js';
import type { SystemdSession } from '../../src/systemd/systemdSession.js';
import { type Harness, rpc, waitFor } from './harness.js';

/**
 * Faults done to the real sandbox, and systemd's own answers to compare the server's with. The
 * sandbox's systemd and its dbus-daemon live in the sandbox's cgroup (src/systemd/cgroups.ts).
 */

/** The pid of the sandbox's dbus-daemon, found in the sandbox's cgroup (not asked over D-Bus). */
export async function busDaemonPid(sandbox: EmbeddedSystemd): Promise<number> {
  for (const pid of await pidsIn(sandbox.cgroups)) {
    const comm = (() => {
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch {
        return '';
      }
    })();
    if (comm === 'dbus-daemon') return pid;
  }
  throw new Error('no dbus-daemon in the sandbox');
}

/** The unique name that owns org.freedesktop.systemd1 on the sandbox's bus now, if any. */
export async function systemdOwner(sandbox: EmbeddedSystemd): Promise<string | undefined> {
  const probe = await BusConnection.open(sandbox.busAddress);
  try {
    const driver = { destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus' };
    const [owner] = (await probe.call({ ...driver, member: 'GetNameOwner', signature: 's', body: ['org.freedesktop.systemd1'] }).catch(() => [undefined])) as [string | undefined];
    return owner;
  } finally {
    probe.close();
  }
}

/** The server's current session, or undefined while it has none. */
export function currentSession(h: Harness): SystemdSession | undefined {
  return h.server.link.isUp ? h.server.link.session() : undefined;
}

/** Waits until the server has a session other than `previous` (it reconnected). */
export async function reconnected(h: Harness, previous: SystemdSession | undefined, timeoutMs = 15_000): Promise<SystemdSession> {
  await waitFor(() => currentSession(h) !== undefined && currentSession(h) !== previous, timeoutMs, 'the server to reconnect to systemd');
  return currentSession(h)!;
}

/**
 * SIGKILLs the sandbox's dbus-daemon; the user manager socket-activates a new one on the next
 * connection attempt and registers on it again.
 */
export async function killBusDaemon(sandbox: EmbeddedSystemd): Promise<void> {
  process.kill(await busDaemonPid(sandbox), 'SIGKILL');
}

/**
 * Restarts the sandbox's bus daemon with at most `limit` match rules per connection (dbus-daemon's
 * max_match_rules_per_connection; the sandbox's systemd needs one), or with its defaults again
 * when `limit` is undefined: a dbus.service drop-in, a daemon-reload, and a SIGKILL of the daemon.
 */
export async function restartBusWithMatchRuleLimit(sandbox: EmbeddedSystemd, limit: number | undefined): Promise<void> {
  const dropIn = join(sandbox.unitDir, 'dbus.service.d');
  if (limit === undefined) {
    await rm(dropIn, { recursive: true, force: true });
  } else {
    const config = join(sandbox.root, 'bus-limits.conf');
    await writeFile(
      config,
      `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <include>/usr/share/dbus-1/session.conf</include>
  <limit name="max_match_rules_per_connection">${limit}</limit>
</busconfig>
`,
    );
    await mkdir(dropIn, { recursive: true });
    await writeFile(
      join(dropIn, 'limits.conf'),
      `[Service]\nExecStart=\nExecStart=/usr/bin/dbus-daemon --config-file=${config} --address=systemd: --nofork --nopidfile --systemd-activation --syslog-only\n`,
    );
  }
  await sandbox.reload();
  await killBusDaemon(sandbox);
}

/**
 * Sends a signal on a connection of its own, as any local user can: unicast to `destination`
 * (match rules do not filter those), claiming to come from wherever `path` and `iface` say.
 */
export async function forgeSignal(
  sandbox: EmbeddedSystemd,
  signal: { destination: string; path: string; interface: string; member: string; signature: string; body: unknown[] },
): Promise<void> {
  const bus = dbus.sessionBus({ busAddress: sandbox.busAddress });
  try {
    await new Promise<void>((resolve, reject) => {
      bus.once('connect', () => resolve());
      bus.once('error', reject);
    });
    bus.send(new dbus.Message({ type: dbus.MessageType.SIGNAL, ...signal }));
    // A round trip to the bus daemon after the signal: it has routed the signal by then.
    await bus.call(new dbus.Message({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'GetId' }));
  } finally {
    bus.disconnect();
  }
}

/**
 * The connections a process has on the sandbox's bus, as the bus daemon counts them (ListNames,
 * then GetConnectionUnixProcessID for each unique name), not counting the one asking.
 */
export async function busConnectionsOf(sandbox: EmbeddedSystemd, pid: number): Promise<string[]> {
  const probe = await BusConnection.open(sandbox.busAddress);
  try {
    const driver = { destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus' };
    const [names] = (await probe.call({ ...driver, member: 'ListNames' })) as [string[]];
    const mine: string[] = [];
    for (const name of names.filter((n) => n.startsWith(':') && n !== probe.uniqueName)) {
      const [owner] = (await probe.call({ ...driver, member: 'GetConnectionUnixProcessID', signature: 's', body: [name] }).catch(() => [0])) as [number];
      if (owner === pid) mine.push(name);
    }
    return mine;
  } finally {
    probe.close();
  }
}

export interface UnitTruth {
  readonly activeState: string;
  readonly subState: string;
  readonly mainPid: number | undefined;
}

/**
 * What systemd says of a team's units right now: ListUnitsByPatterns (which never loads a unit)
 * and, for loaded ones, their MainPID. A unit systemd has not loaded is inactive/dead.
 */
export async function systemdSays(sandbox: EmbeddedSystemd, team: string, names: readonly string[]): Promise<Map<string, UnitTruth>> {
  const connection = await BusConnection.open(sandbox.busAddress);
  try {
    const manager = new SystemdManager(connection);
    const loaded = await manager.ListUnitsByPatterns([], [`lit-stream-${team}@*.service`]);
    const truth = new Map<string, UnitTruth>();
    for (const name of names) {
      const unit = loaded.find((u) => u.name === `lit-stream-${team}@${name}.service`);
      if (!unit) {
        truth.set(name, { activeState: 'inactive', subState: 'dead', mainPid: undefined });
        continue;
      }
      const pid = Number(await manager.getUnitProperty(unit.name, 'org.freedesktop.systemd1.Service', 'MainPID'));
      truth.set(name, { activeState: unit.activeState, subState: unit.subState, mainPid: pid > 0 ? pid : undefined });
    }
    return truth;
  } finally {
    connection.close();
  }
}

/** The streams where the server's ListStreams or GetStatus differs from systemd, described. */
export async function differencesFromSystemd(h: Harness, team: string, names: readonly string[]): Promise<string[]> {
  const truth = await systemdSays(h.sandbox, team, names);
  const { streams } = await rpc(h.client, h.client.listStreams, { team, pageSize: 0, pageToken: '' });
  const differences: string[] = [];
  for (const name of names) {
    const want = truth.get(name)!;
    const listed = streams.find((s) => s.name === name);
    const { status } = await rpc(h.client, h.client.getStatus, { team, name });
    const got = {
      listed: listed ? `${activeStateWord(listed.activeState)}/${listed.subState}` : 'missing',
      status: `${activeStateWord(status!.activeState)}/${status!.subState}`,
      mainPid: status!.mainPid,
    };
    const wanted = `${want.activeState}/${want.subState}`;
    if (got.listed !== wanted || got.status !== wanted || got.mainPid !== want.mainPid) {
      differences.push(`${name}: systemd ${wanted} pid ${want.mainPid}; ListStreams ${got.listed}, GetStatus ${got.status} pid ${got.mainPid}`);
    }
  }
  return differences;
}

/**
 * A monitor on the sandbox's bus (org.freedesktop.DBus.Monitoring.BecomeMonitor): sees every
 * message matching `rules` between any two connections, so a spec can count what the server asks.
 */
export async function monitorBus(sandbox: EmbeddedSystemd, rules: string[]): Promise<{ messages: dbus.Message[]; stop(): void }> {
  const bus = dbus.sessionBus({ busAddress: sandbox.busAddress });
  await new Promise<void>((resolve, reject) => {
    bus.once('connect', () => resolve());
    bus.once('error', reject);
  });
  await bus.call(
    new dbus.Message({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus.Monitoring',
      member: 'BecomeMonitor',
      signature: 'asu',
      body: [rules, 0],
    }),
  );
  const messages: dbus.Message[] = [];
  bus.on('message', (message: dbus.Message) => messages.push(message));
  bus.on('error', () => undefined);
  return { messages, stop: () => bus.disconnect() };
}
