import type { BusConnection, CallSpec } from './busConnection.js';
import { unitObjectPath } from './unitObjectPath.js';

const SYSTEMD = 'org.freedesktop.systemd1';
const MANAGER_PATH = '/org/freedesktop/systemd1';
const MANAGER = 'org.freedesktop.systemd1.Manager';

/**
 * Job modes (org.freedesktop.systemd1(5), "StartUnit()"): `replace` replaces conflicting queued
 * jobs, `fail` refuses when one would be replaced.
 */
export type JobMode = 'replace' | 'fail';

export interface UnitFile {
  readonly path: string;
  /** UnitFileState: enabled, static, indirect, masked, masked-runtime, linked, alias, bad, ... */
  readonly state: string;
}

/**
 * One change EnableUnitFiles/DisableUnitFiles made or reports (org.freedesktop.systemd1(5): their
 * `changes` out-argument, a(sss)): `type` is `symlink` or `unlink` for a symlink created or removed,
 * or a notice such as `masked`; `file` is the symlink's path; `destination` what a created symlink
 * points to (empty otherwise).
 */
export interface UnitFileChange {
  readonly type: string;
  readonly file: string;
  readonly destination: string;
}

export interface UnitInfo {
  readonly name: string;
  readonly description: string;
  readonly loadState: string;
  readonly activeState: string;
  readonly subState: string;
  readonly objectPath: string;
}

export interface UnitProcess {
  readonly cgroup: string;
  readonly pid: number;
  readonly command: string;
}

/** Property values as systemd sends them, unwrapped from their D-Bus variants. */
export type UnitProperties = Readonly<Record<string, unknown>>;

/**
 * systemd's Manager interface, one method per D-Bus method, named as systemd names them
 * (org.freedesktop.systemd1(5)). Speaks units and jobs only; knows nothing of teams or streams.
 */
export class SystemdManager {
  constructor(readonly connection: BusConnection) {}

  /** Enqueues a start job; resolves with the job's object path, not with its completion. */
  async StartUnit(unit: string, mode: JobMode): Promise<string> {
    return (await this.callManager('StartUnit', 'ss', [unit, mode]))[0] as string;
  }

  /** Enqueues a stop job. Stopping an inactive unit yields a job that finishes `done` at once. */
  async StopUnit(unit: string, mode: JobMode): Promise<string> {
    return (await this.callManager('StopUnit', 'ss', [unit, mode]))[0] as string;
  }

  /** Enqueues a restart job: stop then start, or just start when the unit is inactive. */
  async RestartUnit(unit: string, mode: JobMode): Promise<string> {
    return (await this.callManager('RestartUnit', 'ss', [unit, mode]))[0] as string;
  }

  /**
   * Unit files in the search path whose names match one of the globs, with their state; includes
   * both regular files and symlinks (e.g. to a template), and templates themselves (state
   * `indirect` or `static`). An empty `states` list means every state.
   */
  async ListUnitFilesByPatterns(states: string[], patterns: string[]): Promise<UnitFile[]> {
    // systemd reads every unit directory for each matching file's state: seconds for thousands.
    const call = { ...this.managerCall('ListUnitFilesByPatterns', 'asas', [states, patterns]), slow: true };
    const [files] = (await this.connection.call(call)) as [
      [string, string][],
    ];
    return files.map(([path, state]) => ({ path, state }));
  }

  /**
   * `systemctl enable`: creates the symlinks the units' [Install] sections ask for (WantedBy=,
   * RequiredBy=, Alias=, Also=). `runtime`: in /run only (gone at reboot); `force`: replace
   * conflicting symlinks. `carriesInstallInfo` is false when the units have no [Install] section
   * (nothing to enable them by): systemd then succeeds with no changes. A masked unit fails
   * (org.freedesktop.systemd1.UnitMasked). The manager does not reload by itself: call Reload().
   */
  async EnableUnitFiles(files: string[], runtime: boolean, force: boolean): Promise<{ carriesInstallInfo: boolean; changes: UnitFileChange[] }> {
    const [carriesInstallInfo, changes] = (await this.callManager('EnableUnitFiles', 'asbb', [files, runtime, force])) as [boolean, [string, string, string][]];
    return { carriesInstallInfo, changes: changes.map(toChange) };
  }

  /**
   * `systemctl disable`: removes every symlink to the units' files in the configuration directory
   * (org.freedesktop.systemd1(5); systemctl(1), "disable": "including manually created symlinks",
   * so an alias symlink named like the unit goes too). `runtime`: the /run directory instead.
   * Disabling a unit that is not enabled succeeds with no changes. Call Reload() after.
   */
  async DisableUnitFiles(files: string[], runtime: boolean): Promise<UnitFileChange[]> {
    const [changes] = (await this.callManager('DisableUnitFiles', 'asb', [files, runtime])) as [[string, string, string][]];
    return changes.map(toChange);
  }

  /** Units currently loaded in memory whose names match one of the globs. */
  async ListUnitsByPatterns(states: string[], patterns: string[]): Promise<UnitInfo[]> {
    return (await this.ListUnitsByPatternsInOrder(states, patterns)).units;
  }

  /** ListUnitsByPatterns with the reply's position among received messages (BusConnection.Reply). */
  async ListUnitsByPatternsInOrder(states: string[], patterns: string[]): Promise<{ units: UnitInfo[]; sequence: number }> {
    const reply = await this.connection.callInOrder(this.managerCall('ListUnitsByPatterns', 'asas', [states, patterns]));
    const [units] = reply.body as [unknown[][]];
    return { sequence: reply.sequence, units: units.map(([name, description, loadState, activeState, subState, , objectPath]) => ({
      name: name as string,
      description: description as string,
      loadState: loadState as string,
      activeState: activeState as string,
      subState: subState as string,
      objectPath: objectPath as string,
    })) };
  }

  /** The processes in the unit's cgroup. */
  async GetUnitProcesses(unit: string): Promise<UnitProcess[]> {
    const [processes] = (await this.callManager('GetUnitProcesses', 's', [unit])) as [[string, number, string][]];
    return processes.map(([cgroup, pid, command]) => ({ cgroup, pid, command }));
  }

  /**
   * Asks systemd to emit its signals (JobRemoved, UnitNew, ...) to this client, until it
   * disconnects or calls Unsubscribe. `destination`: the unique name of one systemd instance (a
   * session subscribes with the instance it learnt owns the name), else the well-known name.
   */
  async Subscribe(timeoutMs?: number, destination = SYSTEMD): Promise<void> {
    await this.connection.call({ ...this.managerCall('Subscribe', '', [], timeoutMs), destination });
  }

  /**
   * `systemctl daemon-reload`: re-reads every unit file and rebuilds the dependency tree, so the
   * manager acts on symlinks EnableUnitFiles/DisableUnitFiles changed (systemctl calls it after
   * both). It announces itself with Reloading(true) … Reloading(false).
   */
  async Reload(): Promise<void> {
    await this.callManager('Reload', '', [], 90_000);
  }

  /** Asks a user manager to exit (the system manager refuses). */
  async Exit(): Promise<void> {
    await this.callManager('Exit', '', []);
  }

  /** Manager property, e.g. `SystemState` (`starting`, `running`, `degraded`, ...). */
  async getManagerProperty(name: string): Promise<unknown> {
    const [variant] = (await this.connection.call({
      destination: SYSTEMD,
      path: MANAGER_PATH,
      interface: 'org.freedesktop.DBus.Properties',
      member: 'Get',
      signature: 'ss',
      body: [MANAGER, name],
    })) as [{ value: unknown }];
    return variant.value;
  }

  /**
   * Every property of a unit on all its interfaces (Unit, Service, ...) in one call: sd-bus answers
   * Properties.GetAll with an empty interface name with all of them.
   */
  async getUnitProperties(unit: string): Promise<UnitProperties> {
    return (await this.getUnitPropertiesInOrder(unit)).properties;
  }

  /** getUnitProperties with the reply's position among received messages (BusConnection.Reply). */
  async getUnitPropertiesInOrder(unit: string): Promise<{ properties: UnitProperties; sequence: number }> {
    const reply = await this.connection.callInOrder({
      destination: SYSTEMD,
      path: unitObjectPath(unit),
      interface: 'org.freedesktop.DBus.Properties',
      member: 'GetAll',
      signature: 's',
      body: [''],
    });
    return { properties: unwrapVariants(reply.body[0] as Record<string, { value: unknown }>), sequence: reply.sequence };
  }

  /** One property of one of a unit's interfaces (e.g. `org.freedesktop.systemd1.Service`, `TasksCurrent`). */
  async getUnitProperty(unit: string, iface: string, name: string): Promise<unknown> {
    return (await this.getUnitPropertyInOrder(unit, iface, name)).value;
  }

  /** getUnitProperty with the reply's position among received messages (BusConnection.Reply). */
  async getUnitPropertyInOrder(unit: string, iface: string, name: string): Promise<{ value: unknown; sequence: number }> {
    const reply = await this.connection.callInOrder({
      destination: SYSTEMD,
      path: unitObjectPath(unit),
      interface: 'org.freedesktop.DBus.Properties',
      member: 'Get',
      signature: 'ss',
      body: [iface, name],
    });
    return { value: (reply.body[0] as { value: unknown }).value, sequence: reply.sequence };
  }

  private callManager(member: string, signature: string, body: unknown[], timeoutMs?: number): Promise<unknown[]> {
    return this.connection.call(this.managerCall(member, signature, body, timeoutMs));
  }

  private managerCall(member: string, signature: string, body: unknown[], timeoutMs?: number): CallSpec {
    return { destination: SYSTEMD, path: MANAGER_PATH, interface: MANAGER, member, signature, body, timeoutMs };
  }
}

function toChange([type, file, destination]: [string, string, string]): UnitFileChange {
  return { type, file, destination };
}

/** Property maps (a{sv}) arrive as dbus-next Variants; keep just the values. */
export function unwrapVariants(variants: Record<string, { value: unknown }>): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [key, variant] of Object.entries(variants)) values[key] = variant.value;
  return values;
}

/** The well-known bus name systemd's manager owns. */
export const SYSTEMD_BUS_NAME = SYSTEMD;

/**
 * Match rule for the bus daemon's NameOwnerChanged about systemd's name: tells when systemd
 * appears on the bus, leaves it, or is replaced by another instance (D-Bus spec, "NameOwnerChanged").
 */
export const SYSTEMD_OWNER_MATCH = `type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='${SYSTEMD}'`;

/** Match rule for the Manager's signals (JobRemoved and friends), from systemd's well-known name. */
export const MANAGER_SIGNALS_MATCH = `type='signal',sender='${SYSTEMD}',path='${MANAGER_PATH}',interface='${MANAGER}'`;
export const MANAGER_INTERFACE = MANAGER;
/** The interface of service units' own properties (ControlGroup, MainPID, TasksCurrent, ...). */
export const SERVICE_INTERFACE = 'org.freedesktop.systemd1.Service';

/**
 * Match rule for PropertiesChanged of every unit object: one rule for all units, since the system
 * bus caps match rules per connection (dbus-daemon's max_match_rules_per_connection, 512 in
 * Debian's system.conf) and a host may declare more streams than that.
 */
export const UNIT_PROPERTIES_MATCH = `type='signal',sender='${SYSTEMD}',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',path_namespace='/org/freedesktop/systemd1/unit'`;
