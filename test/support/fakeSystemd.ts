import type { ControlView } from '../../src/control/streamController.js';
import { toStatus } from '../../src/control/streamView.js';
import { OnCurrentSession, type EnqueueMethod, type JobSession } from '../../src/control/systemdPort.js';
import { StreamNotDeclaredError } from '../../src/core/errors.js';
import type { StreamStatus, StreamSummary } from '../../src/core/status.js';
import type { StreamRef } from '../../src/core/streamRef.js';
import { UnitNaming } from '../../src/core/unitNaming.js';
import { BusUnavailableError } from '../../src/systemd/errors.js';
import { JobTracker } from '../../src/systemd/jobs.js';
import { SERVICE_INTERFACE, type JobMode, type UnitFile, type UnitFileChange, type UnitProperties } from '../../src/systemd/manager.js';
import { readServiceState, type ServiceState } from '../../src/systemd/serviceState.js';

/** waitid(2) codes, as systemd's ExecMainCode carries them. */
export const CLD_EXITED = 1;
export const CLD_KILLED = 2;

/** What a job does to its unit when it finishes: its JobRemoved result and the unit's new properties. */
export interface JobEnd {
  readonly result: string;
  readonly props?: UnitProperties;
}

/** A job the fake holds (until the spec finishes it), or has finished. */
export interface FakeJob {
  readonly path: string;
  readonly method: EnqueueMethod;
  readonly unit: string;
  readonly mode: JobMode;
}

interface FakeUnit {
  readonly ref: StreamRef;
  /** UnitFileState of its unit file; undefined: no unit file in the search path. */
  fileState: string | undefined;
  /** Shown by the view although its file no longer declares it (it still runs). */
  undeclared: boolean;
  /** Whether the view shows it at all. */
  shown: boolean;
  type: string;
  props: Record<string, unknown>;
  job: FakeJob | undefined;
  /** Its file's path, and what its [Install] section says it is wanted by (null: it has none). */
  path: string;
  install: string | null;
  /** Whether the `.wants` symlink of its [Install] section exists. */
  wanted: boolean;
}

/** The fake's unit search path (UnitPath), in systemd's order; its persistent configuration directory is CONFIG_DIR. */
export const CONFIG_DIR = '/nonexistent/config/systemd/user';
const UNIT_PATH = ['/nonexistent/config/systemd/user.control', '/nonexistent/runtime/systemd/transient', '/nonexistent/runtime/systemd/generator.early', CONFIG_DIR, '/nonexistent/data/systemd/user'];

const INACTIVE = { LoadState: 'loaded', ActiveState: 'inactive', SubState: 'dead', Result: 'success', NRestarts: 0, ExecMainCode: 0, ExecMainStatus: 0 };
const RUNNING = { LoadState: 'loaded', ActiveState: 'active', SubState: 'running', Result: 'success', ExecMainCode: 0, ExecMainStatus: 0 };

/**
 * A stand-in for one systemd user manager and the server's live view of it, for the controller's
 * rules: units with a state, jobs that finish as systemd's would (in `replace` mode a stop job
 * cancels the unit's start or restart job; a finished job first changes the unit, which the view
 * and its followers see, then sends JobRemoved, as systemd flushes the unit queue before the job
 * queue), and a session that can end. Jobs finish by themselves on the next turn of the event loop
 * unless the spec holds them (`hold`), then finish when the spec says (`finish`).
 *
 * Everything asked of it is recorded in `calls`, in order, so a spec can say what was not asked.
 */
export class FakeSystemd extends OnCurrentSession implements ControlView {
  readonly naming = new UnitNaming();
  readonly calls: string[] = [];
  /** Every job sent, in order. */
  readonly sent: FakeJob[] = [];
  private readonly units = new Map<string, FakeUnit>();
  private readonly followers = new Map<string, Set<(status: StreamStatus) => void>>();
  private current: FakeSession | undefined = new FakeSession(this);
  private nextJob = 1;
  private holding = false;
  /** Its unit search path (the Manager's UnitPath). */
  unitPath: string[] = [...UNIT_PATH];
  /** Methods systemd answers with an error instead (e.g. `EnableUnitFiles` refused as polkit refuses it), by name. */
  readonly refusals = new Map<string, Error>();
  /** How each job ends when it is left to finish by itself; by default as systemd's would on a healthy worker. */
  outcome: (job: FakeJob, unit: Readonly<Record<string, unknown>>) => JobEnd = defaultOutcome;

  /** Declares a stream (a unit file linking to its team's template), inactive. */
  declare(
    name: string,
    options: { team?: string; type?: string; fileState?: string; props?: UnitProperties; path?: string; install?: string | null } = {},
  ): string {
    const ref = { team: options.team ?? 'contoso', name };
    const unit = this.naming.unitOf(ref);
    this.units.set(unit, {
      ref,
      fileState: options.fileState ?? 'disabled',
      undeclared: false,
      shown: true,
      type: options.type ?? 'exec',
      props: { ...INACTIVE, ...options.props },
      job: undefined,
      // A path this process cannot see: judgeDeclaration trusts systemd's word for it.
      path: options.path ?? `${CONFIG_DIR}/${unit}`,
      install: options.install === undefined ? 'default.target' : options.install,
      wanted: false,
    });
    return unit;
  }

  /** Changes what the view and systemd know of the unit's file: shown or not, undeclared, masked… */
  file(unit: string, change: { fileState?: string | undefined; shown?: boolean; undeclared?: boolean }): void {
    Object.assign(this.unit(unit), change);
  }

  /** systemd changes the unit (its worker exits, systemd restarts it…): the view's followers are told. */
  set(unit: string, props: UnitProperties): void {
    Object.assign(this.unit(unit).props, props);
    const status = this.statusOf(unit);
    for (const listener of [...(this.followers.get(unit) ?? [])]) listener(status);
  }

  /**
   * systemd changes the unit, and its signal is still on its way (a busy bus or event loop): the
   * view's followers hear nothing yet, while a read of the unit already sees the change.
   */
  setUnannounced(unit: string, props: UnitProperties): void {
    Object.assign(this.unit(unit).props, props);
  }

  props(unit: string): Readonly<Record<string, unknown>> {
    return this.unit(unit).props;
  }

  /** From now on jobs wait for `finish`. */
  hold(): void {
    this.holding = true;
  }

  /** The unit's job, once it is sent. */
  jobOf(unit: string): FakeJob | undefined {
    return this.unit(unit).job;
  }

  /** Finishes the unit's job: the unit changes, then systemd sends JobRemoved. */
  finish(unit: string, end?: JobEnd): void {
    const u = this.unit(unit);
    const job = u.job;
    if (!job) throw new Error(`${unit} has no job to finish`);
    const { result, props } = end ?? this.outcome(job, u.props);
    u.job = undefined;
    if (props) this.set(unit, props);
    this.current?.jobs.jobRemoved(job.path, result);
  }

  /** The session ends (the bus or systemd went away): its jobs' waits fail, its windows are told. */
  endSession(error = new BusUnavailableError('systemd left the bus')): void {
    const ended = this.current;
    this.current = undefined;
    ended?.end(error);
  }

  /** A new session with systemd is up. */
  reconnect(): void {
    this.current = new FakeSession(this);
  }

  /** Units followed right now (settle windows waiting). */
  get following(): number {
    let count = 0;
    for (const listeners of this.followers.values()) count += listeners.size;
    return count;
  }

  // ----- SystemdPort

  session(): JobSession {
    if (!this.current) throw new BusUnavailableError('systemd is unreachable: systemd left the bus');
    return this.current;
  }

  // ----- ControlView

  async declaration(ref: StreamRef): Promise<{ undeclared: boolean }> {
    this.calls.push(`view.declaration ${ref.name}`);
    const unit = this.units.get(this.naming.unitOf(ref));
    if (!unit?.shown) throw new StreamNotDeclaredError(`stream '${ref.name}' of team '${ref.team}' is not declared`);
    return { undeclared: unit.undeclared };
  }

  knownState(unit: string): ServiceState | undefined {
    return readServiceState(this.unit(unit).props);
  }

  async unitState(unit: string): Promise<ServiceState> {
    this.calls.push(`view.unitState ${unit}`);
    return readServiceState(this.unit(unit).props);
  }

  async summary(ref: StreamRef): Promise<StreamSummary> {
    const unit = this.naming.unitOf(ref);
    this.calls.push(`view.summary ${unit}`);
    const u = this.unit(unit);
    const { team, name, loadState, activeState, subState } = toStatus(u.ref, unit, readServiceState(u.props));
    return { team, name, unit, loadState, activeState, subState, unitFileState: u.fileState };
  }

  async follow(ref: StreamRef, listener: (status: StreamStatus) => void): Promise<{ current: StreamStatus | undefined; stop(): void }> {
    const unit = this.naming.unitOf(ref);
    this.calls.push(`view.follow ${unit}`);
    const listeners = this.followers.get(unit) ?? new Set();
    this.followers.set(unit, listeners);
    listeners.add(listener);
    return {
      current: this.statusOf(unit),
      stop: () => {
        listeners.delete(listener);
        if (listeners.size === 0) this.followers.delete(unit);
      },
    };
  }

  // ----- what a session does

  /** @internal FakeSession's calls: recorded, on the current session only. */
  read(session: FakeSession, call: string, unit: string): FakeUnit;
  read(session: FakeSession, call: string, unit: undefined): undefined;
  read(session: FakeSession, call: string, unit: string | undefined): FakeUnit | undefined {
    if (session !== this.current) throw new BusUnavailableError('the session ended');
    this.calls.push(unit === undefined ? call : `${call} ${unit}`);
    const refusal = this.refusals.get(call);
    if (refusal) throw refusal;
    return unit === undefined ? undefined : this.unit(unit);
  }

  /** @internal FakeSession's enqueue: systemd's job, in replace mode. */
  async enqueue(session: FakeSession, method: EnqueueMethod, unit: string, mode: JobMode): Promise<string> {
    const u = this.read(session, method, unit);
    const job: FakeJob = { path: `/org/freedesktop/systemd1/job/${this.nextJob++}`, method, unit, mode };
    this.sent.push(job);
    // A unit has at most one job; in replace mode a stop job replaces a start or restart job,
    // which ends `canceled` (systemd.job(5)). The controller's queue never sends one to merge.
    if (u.job) {
      if (method !== 'StopUnit' || u.job.method === 'StopUnit') throw new Error(`the queue let ${method} through while ${u.job.method} ran on ${unit}`);
      const replaced = u.job;
      u.job = undefined;
      setImmediate(() => session.jobs.jobRemoved(replaced.path, 'canceled'));
    }
    u.job = job;
    if (!this.holding) setImmediate(() => u.job === job && session === this.current && this.finish(unit));
    return job.path;
  }

  private statusOf(unit: string): StreamStatus {
    const u = this.unit(unit);
    return toStatus(u.ref, unit, readServiceState(u.props));
  }

  /** @internal */
  unit(unit: string): FakeUnit {
    const u = this.units.get(unit);
    if (!u) throw new Error(`no such fake unit ${unit}`);
    return u;
  }
}

class FakeSession implements JobSession {
  readonly jobs = new JobTracker();
  private ended: Error | undefined;
  private readonly ends = new Set<(error: Error) => void>();

  constructor(private readonly systemd: FakeSystemd) {}

  enqueue(method: EnqueueMethod, unit: string, mode: JobMode): Promise<string> {
    return this.systemd.enqueue(this, method, unit, mode);
  }

  async getUnitProperties(unit: string): Promise<UnitProperties> {
    return { ...this.systemd.read(this, 'GetAll', unit).props };
  }

  async getUnitProperty(unit: string, iface: string, name: string): Promise<unknown> {
    const u = this.systemd.read(this, `Get ${name}`, unit);
    if (iface !== SERVICE_INTERFACE) throw new Error(`the fake has no ${iface}`);
    return name === 'Type' ? u.type : u.props[name];
  }

  async listUnitFilesByPatterns(patterns: string[]): Promise<UnitFile[]> {
    const files: UnitFile[] = [];
    for (const unit of patterns) {
      const u = this.systemd.read(this, 'ListUnitFilesByPatterns', unit);
      if (u.fileState !== undefined) files.push({ path: u.path, state: u.fileState });
    }
    return files;
  }

  async getManagerProperty(name: string): Promise<unknown> {
    this.systemd.read(this, `Get Manager.${name}`, undefined);
    if (name !== 'UnitPath') throw new Error(`the fake has no Manager.${name}`);
    return this.systemd.unitPath;
  }

  async enableUnitFiles(files: string[], runtime: boolean, force: boolean): Promise<{ carriesInstallInfo: boolean; changes: UnitFileChange[] }> {
    if (files.length !== 1 || runtime || force) throw new Error(`the fake enables one unit file, persistently, without force`);
    const unit = files[0]!;
    const u = this.systemd.read(this, 'EnableUnitFiles', unit);
    if (u.fileState === 'masked') throw new Error(`Unit file ${u.path} is masked.`);
    if (u.install === null) return { carriesInstallInfo: false, changes: [] };
    if (u.wanted) return { carriesInstallInfo: true, changes: [] };
    u.wanted = true;
    u.fileState = 'enabled';
    return { carriesInstallInfo: true, changes: [{ type: 'symlink', file: `${CONFIG_DIR}/${u.install}.wants/${unit}`, destination: u.path }] };
  }

  async disableUnitFiles(files: string[], runtime: boolean): Promise<UnitFileChange[]> {
    if (files.length !== 1 || runtime) throw new Error(`the fake disables one unit file, persistently`);
    const unit = files[0]!;
    const u = this.systemd.read(this, 'DisableUnitFiles', unit);
    if (u.fileState === 'masked') return [{ type: 'masked', file: u.path, destination: '' }];
    if (!u.wanted) return [];
    u.wanted = false;
    u.fileState = 'disabled';
    return [{ type: 'unlink', file: `${CONFIG_DIR}/${u.install}.wants/${unit}`, destination: '' }];
  }

  async reload(): Promise<void> {
    this.systemd.read(this, 'Reload', undefined);
  }

  onEnd(callback: (error: Error) => void): () => void {
    if (this.ended) {
      callback(new Error('it ended as the job finished'));
      return () => undefined;
    }
    this.ends.add(callback);
    return () => this.ends.delete(callback);
  }

  end(error: Error): void {
    this.ended = error;
    this.jobs.fail(error);
    for (const call of [...this.ends]) call(error);
    this.ends.clear();
  }
}

/** A healthy worker: start and restart leave it running, stop leaves it dead; every job `done`. */
function defaultOutcome(job: FakeJob, unit: Readonly<Record<string, unknown>>): JobEnd {
  if (job.method === 'StopUnit') return { result: 'done', props: { ActiveState: 'inactive', SubState: 'dead', MainPID: 0 } };
  // systemd zeroes NRestarts when a unit starts after a stop that was not its own restart (a
  // Restart stops it first), unless it was about to restart it itself (auto-restart).
  const flushed = unit.SubState !== 'auto-restart' && (job.method === 'RestartUnit' || unit.ActiveState === 'inactive' || unit.ActiveState === 'failed');
  return { result: 'done', props: { ...RUNNING, MainPID: 4242, NRestarts: flushed ? 0 : unit.NRestarts } };
}
