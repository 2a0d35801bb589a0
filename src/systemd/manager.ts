import type { BusConnection } from './busConnection.js';
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
    const [files] = (await this.callManager('ListUnitFilesByPatterns', 'asas', [states, patterns])) as [
      [string, string][],
    ];
    return files.map(([path, state]) => ({ path, state }));
  }

  /** Units currently loaded in memory whose names match one of the globs. */
  async ListUnitsByPatterns(states: string[], patterns: string[]): Promise<UnitInfo[]> {
    const [units] = (await this.callManager('ListUnitsByPatterns', 'asas', [states, patterns])) as [unknown[][]];
    return units.map(([name, description, loadState, activeState, subState, , objectPath]) => ({
      name: name as string,
      description: description as string,
      loadState: loadState as string,
      activeState: activeState as string,
      subState: subState as string,
      objectPath: objectPath as string,
    }));
  }

  /** The processes in the unit's cgroup. */
  async GetUnitProcesses(unit: string): Promise<UnitProcess[]> {
    const [processes] = (await this.callManager('GetUnitProcesses', 's', [unit])) as [[string, number, string][]];
    return processes.map(([cgroup, pid, command]) => ({ cgroup, pid, command }));
  }

  /** Asks systemd to emit its signals (JobRemoved, UnitNew, ...) to this client. */
  async Subscribe(): Promise<void> {
    await this.callManager('Subscribe', '', []);
  }

  /** `daemon-reload`: re-reads all unit files. */
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
    const [all] = (await this.connection.call({
      destination: SYSTEMD,
      path: unitObjectPath(unit),
      interface: 'org.freedesktop.DBus.Properties',
      member: 'GetAll',
      signature: 's',
      body: [''],
    })) as [Record<string, { value: unknown }>];
    const properties: Record<string, unknown> = {};
    for (const [key, variant] of Object.entries(all)) properties[key] = variant.value;
    return properties;
  }

  private callManager(member: string, signature: string, body: unknown[], timeoutMs?: number): Promise<unknown[]> {
    return this.connection.call({
      destination: SYSTEMD,
      path: MANAGER_PATH,
      interface: MANAGER,
      member,
      signature,
      body,
      timeoutMs,
    });
  }
}

/** Match rule for the Manager's signals (JobRemoved and friends), from systemd's well-known name. */
export const MANAGER_SIGNALS_MATCH = `type='signal',sender='${SYSTEMD}',path='${MANAGER_PATH}',interface='${MANAGER}'`;
export const MANAGER_INTERFACE = MANAGER;
