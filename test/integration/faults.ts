import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClientReadableStream } from '@grpc/grpc-js';
import dbus from 'dbus-next';
import { activeStateWord } from '../../src/api/stateNames.js';
import { BusConnection, destroyBus } from '../../src/systemd/busConnection.js';
import { pidsIn } from '../../src/systemd/cgroups.js';
import type { EmbeddedSystemd } from '../../src/dev/embeddedSystemd.js';
import { SERVICE_INTERFACE, SystemdManager } from '../../src/systemd/manager.js';
import type { SystemdSession } from '../../src/systemd/systemdSession.js';
import type { WatchStatusResponse } from '../../gen/lit/stream/v1/stream.js';
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
  const probe = await BusConnection.open(sandbox.busAddress, 15_000);
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
 * `daemon-reexec` of the sandbox's systemd: it re-executes and comes back on the bus under a new
 * unique name (a new owner of org.freedesktop.systemd1). Resolves with that name.
 */
export async function reexecuteSystemd(sandbox: EmbeddedSystemd): Promise<string> {
  const before = await systemdOwner(sandbox);
  await sandbox.withManager((m) => m.connection.call({
    destination: 'org.freedesktop.systemd1',
    path: '/org/freedesktop/systemd1',
    interface: 'org.freedesktop.systemd1.Manager',
    member: 'Reexecute',
  }).catch(() => undefined)); // systemd may drop the connection before it answers
  let now: string | undefined;
  await waitFor(async () => ![undefined, before].includes((now = await systemdOwner(sandbox))), 10_000, 'systemd back on the bus');
  return now!;
}

/**
 * Lets the sandbox's dbus.service be started any number of times (systemd's default start limit,
 * 5 in 10 s, would refuse a spec that kills the bus daemon more often than that).
 */
export async function allowBusRestarts(sandbox: EmbeddedSystemd): Promise<void> {
  const dropIn = join(sandbox.unitDir, 'dbus.service.d');
  await mkdir(dropIn, { recursive: true });
  await writeFile(join(dropIn, 'restarts.conf'), '[Unit]\nStartLimitIntervalSec=0\n');
  await sandbox.reload();
}

/**
 * SIGKILLs the sandbox's dbus-daemon and waits until systemd has reaped it; runs `meanwhile` (the
 * bus is down: no connection can be made without activating a new daemon); then waits until a new
 * one answers with systemd on it — the user manager socket-activates it on the next connection
 * attempt and registers on it by itself.
 *
 * Waiting for the reaping matters: a unit changing state between the daemon's death and systemd
 * noticing it makes systemd 252 reconnect, synchronously, to the socket it listens on itself for
 * the next daemon, and stall for 90 s (its own D-Bus timeout) — a systemd hazard, not this server's.
 */
export async function killBusDaemon(sandbox: EmbeddedSystemd, meanwhile?: () => void | Promise<void>): Promise<void> {
  const pid = await busDaemonPid(sandbox);
  process.kill(pid, 'SIGKILL');
  await waitFor(() => !existsSync(`/proc/${pid}`), 10_000, 'systemd to reap the bus daemon');
  await meanwhile?.();
  await busAnswers(sandbox);
}

/**
 * Waits until the sandbox's bus answers and systemd is on it again. (Killing the bus daemon while
 * systemd is still reconnecting to it can stall systemd for its own 25 s D-Bus timeout: it then
 * waits, synchronously, for a bus daemon that only it can start.)
 */
export async function busAnswers(sandbox: EmbeddedSystemd): Promise<void> {
  await waitFor(async () => (await systemdOwner(sandbox).catch(() => undefined)) !== undefined, 30_000, 'the bus, with systemd on it, to answer');
}

/**
 * Restarts the sandbox's bus daemon with at most `limit` match rules per connection (dbus-daemon's
 * max_match_rules_per_connection; the sandbox's systemd needs one), or with its defaults again
 * when `limit` is undefined: a dbus.service drop-in, a daemon-reload, and a SIGKILL of the daemon.
 */
export async function restartBusWithMatchRuleLimit(sandbox: EmbeddedSystemd, limit: number | undefined): Promise<void> {
  const dropIn = join(sandbox.unitDir, 'dbus.service.d');
  if (limit === undefined) {
    await rm(join(dropIn, 'limits.conf'), { force: true });
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
      const pid = Number(await manager.getUnitProperty(unit.name, SERVICE_INTERFACE, 'MainPID'));
      truth.set(name, { activeState: unit.activeState, subState: unit.subState, mainPid: pid > 0 ? pid : undefined });
    }
    return truth;
  } finally {
    connection.close();
  }
}

/**
 * The streams where ListStreams differs from systemd (active and sub state), described. ListStreams
 * answers from the server's live view and never makes it ask systemd anything, so this sees the
 * view as it stands: the probe to judge convergence by (see differencesFromSystemd).
 */
export async function listedDifferences(h: Harness, team: string, names: readonly string[]): Promise<string[]> {
  const truth = await systemdSays(h.sandbox, team, names);
  const { streams } = await rpc(h.client, h.client.listStreams, { team, pageSize: 0, pageToken: '' });
  return names.flatMap((name) => {
    const want = truth.get(name)!;
    const wanted = `${want.activeState}/${want.subState}`;
    const listed = streams.find((s) => s.name === name);
    const got = listed ? `${activeStateWord(listed.activeState)}/${listed.subState}` : 'missing';
    return got === wanted ? [] : [`${name}: systemd ${wanted}; ListStreams ${got}`];
  });
}

/**
 * The streams where ListStreams or GetStatus differs from systemd, described. GetStatus re-reads a
 * unit the view has not read whole on its current session, so it repairs what it inspects: polled
 * until it agrees, it would hide a view that never resynchronised (and the repaired values reach
 * open watches too). Judge convergence by `converged` (ListStreams and open watches) first; this
 * then checks that GetStatus agrees as well.
 *
 * systemd is asked before and after the server: a unit whose job is still running when this is
 * called (a start systemd was asked for just before) may move on between the reads, so an answer
 * agrees when it is what systemd said at either time, never a state it had at neither.
 */
export async function differencesFromSystemd(h: Harness, team: string, names: readonly string[]): Promise<string[]> {
  const before = await systemdSays(h.sandbox, team, names);
  const { streams } = await rpc(h.client, h.client.listStreams, { team, pageSize: 0, pageToken: '' });
  const answers = new Map<string, { listed: string; status: string; mainPid: number | undefined }>();
  for (const name of names) {
    const listed = streams.find((s) => s.name === name);
    const { status } = await rpc(h.client, h.client.getStatus, { team, name });
    answers.set(name, {
      listed: listed ? `${activeStateWord(listed.activeState)}/${listed.subState}` : 'missing',
      status: `${activeStateWord(status!.activeState)}/${status!.subState}`,
      mainPid: status!.mainPid,
    });
  }
  const after = await systemdSays(h.sandbox, team, names);
  const differences: string[] = [];
  for (const name of names) {
    const got = answers.get(name)!;
    const said = [before.get(name)!, after.get(name)!];
    const state = (truth: UnitTruth) => `${truth.activeState}/${truth.subState}`;
    const listedAgrees = said.some((truth) => got.listed === state(truth));
    const statusAgrees = said.some((truth) => got.status === state(truth) && got.mainPid === truth.mainPid);
    if (!listedAgrees || !statusAgrees) {
      const wanted = [...new Set(said.map((truth) => `${state(truth)} pid ${truth.mainPid}`))].join(', then ');
      differences.push(`${name}: systemd ${wanted}; ListStreams ${got.listed}, GetStatus ${got.status} pid ${got.mainPid}`);
    }
  }
  return differences;
}

/** A team watch opened through the server, and what it has said so far. */
export interface TeamWatch {
  readonly call: ClientReadableStream<WatchStatusResponse>;
  readonly messages: WatchStatusResponse[];
  /** The last status it reported for each stream, as `active/sub pid`. */
  lastSeen(): Map<string, string>;
  /** The streams where its last word differs from systemd (state and main pid), described. */
  differences(names: readonly string[]): Promise<string[]>;
}

/**
 * Opens a watch of the team's streams. Open it before the fault a spec inspects: opening one makes
 * the server read every unit it has not read whole on its session, which would repair the view.
 */
export function watchTeam(h: Harness, team: string): TeamWatch {
  const call: ClientReadableStream<WatchStatusResponse> = h.client.watchStatus({ team, name: '' });
  const messages: WatchStatusResponse[] = [];
  call.on('data', (message: WatchStatusResponse) => messages.push(message));
  call.on('error', () => undefined);
  const lastSeen = () => {
    const seen = new Map<string, string>();
    for (const { status: s } of messages) seen.set(s!.name, `${activeStateWord(s!.activeState)}/${s!.subState} ${s!.mainPid}`);
    return seen;
  };
  return {
    call,
    messages,
    lastSeen,
    async differences(names) {
      const truth = await systemdSays(h.sandbox, team, names);
      const seen = lastSeen();
      return names.flatMap((name) => {
        const want = truth.get(name)!;
        const wanted = `${want.activeState}/${want.subState} ${want.mainPid}`;
        return seen.get(name) === wanted ? [] : [`${name}: systemd ${wanted}, watch ${seen.get(name)}`];
      });
    },
  };
}

/**
 * Waits until the server's view matches systemd for these streams, judged without letting the
 * server ask systemd anything — ListStreams and, when given, watches opened before the fault —
 * then resolves with where GetStatus (which may re-read units) still differs: [] when all agree.
 * UNAVAILABLE (still reconnecting) counts as not there yet.
 */
export async function converged(h: Harness, team: string, names: readonly string[], watches: readonly TeamWatch[] = [], timeoutMs = 2_000): Promise<string[]> {
  let last: string[] = [];
  const differences = async () => {
    const listed = await listedDifferences(h, team, names).catch((error: Error) => [error.message]);
    const watched = (await Promise.all(watches.map((w) => w.differences(names)))).flat();
    return (last = [...listed, ...watched]);
  };
  try {
    await waitFor(async () => (await differences()).length === 0, timeoutMs, 'ListStreams and the watches to match systemd');
  } catch (error) {
    throw new Error(`${(error as Error).message}: ${last.join('; ')}`);
  }
  return differencesFromSystemd(h, team, names);
}

/** Where caughtUp() pings systemd: a path nothing else calls (sd-bus answers Peer.Ping on any). */
const MARKER_PATH = '/lit_stream/spec/monitor_marker';

async function pingSystemdAt(sandbox: EmbeddedSystemd, path: string): Promise<void> {
  // The project's own connection: a bus that is down fails the open, and a reply that never comes
  // fails the call after its timeout, rather than hanging the spec.
  const connection = await BusConnection.open(sandbox.busAddress);
  try {
    await connection.call({ destination: 'org.freedesktop.systemd1', path, interface: 'org.freedesktop.DBus.Peer', member: 'Ping', timeoutMs: 5_000 });
  } finally {
    connection.close();
  }
}

/**
 * A monitor on the sandbox's bus (org.freedesktop.DBus.Monitoring.BecomeMonitor): sees every
 * message matching `rules` between any two connections, so a spec can count what the server asks.
 * `caughtUp()` proves it still sees: a spec that asserts something was *not* sent calls it first,
 * or a monitor the bus had dropped would pass it.
 */
export async function monitorBus(sandbox: EmbeddedSystemd, rules: string[]): Promise<{ messages: dbus.Message[]; caughtUp(): Promise<void>; stop(): void }> {
  const bus = dbus.sessionBus({ busAddress: sandbox.busAddress });
  await new Promise<void>((resolve, reject) => {
    bus.once('connect', () => resolve());
    bus.once('error', reject);
  });
  // dbus-next answers every method call it is not told to handle (UnknownMethod), and the bus
  // disconnects a monitor that sends anything (D-Bus spec, "BecomeMonitor"): it would see the
  // first method call only. A monitor answers nothing — from before it becomes one, so that no
  // call routed to it meanwhile is answered either.
  bus.addMethodHandler(() => true);
  const messages: dbus.Message[] = [];
  let markers = 0;
  // Not the bus's own messages to this connection before it became a monitor: monitoring starts
  // with the reply to BecomeMonitor ('message' comes before dbus-next settles the call, and a
  // monitored message read together with the reply must not be lost).
  const becomeMonitor = new dbus.Message({
    destination: 'org.freedesktop.DBus',
    path: '/org/freedesktop/DBus',
    interface: 'org.freedesktop.DBus.Monitoring',
    member: 'BecomeMonitor',
    signature: 'asu',
    body: [[...rules, `type='method_call',path='${MARKER_PATH}'`], 0],
  });
  let monitoring = false;
  bus.on('message', (message: dbus.Message) => {
    if (!monitoring) {
      monitoring = becomeMonitor.serial !== null && Number(message.replySerial) === becomeMonitor.serial; // a number at run time, whatever the typings say
      return;
    }
    if (message.path === MARKER_PATH) markers++;
    else messages.push(message);
  });
  bus.on('error', () => undefined);
  await bus.call(becomeMonitor);
  return {
    messages,
    // The bus hands its monitor messages in the order it routes them: once a call made now is in,
    // everything routed before it is too.
    async caughtUp() {
      const seen = markers;
      await pingSystemdAt(sandbox, MARKER_PATH);
      await waitFor(() => markers > seen, 5_000, 'the bus monitor to see a call made after the others');
    },
    stop: () => destroyBus(bus),
  };
}
