import type { UnitProperties } from './manager.js';

/**
 * systemd reports a uint64 value it does not have as UINT64_MAX: a counter it does not know
 * (TasksCurrent, MemoryCurrent with accounting off) or a timestamp never set (USEC_INFINITY);
 * org.freedesktop.systemd1(5), "Properties".
 */
const UINT64_MAX = 2n ** 64n - 1n;

/**
 * ActiveStates in which a unit has no processes: `inactive` and `failed` (systemd.unit(5); every
 * other state, `activating` and `deactivating` included, has or is getting some). `''` is a unit
 * systemd has not loaded.
 */
const WITHOUT_PROCESSES: ReadonlySet<string> = new Set(['inactive', 'failed', '']);

/**
 * ActiveStates a unit reaches only through `active` in its current activation, so its
 * ActiveEnterTimestamp is when this activation started (not the last one's, as in `activating`).
 */
const STARTED: ReadonlySet<string> = new Set(['active', 'reloading', 'deactivating']);

/** waitid(2) codes systemd stores in ExecMainCode. */
const CLD_EXITED = 1;

/**
 * The properties of a service unit that status reports are built from, typed, in systemd's names
 * (org.freedesktop.systemd1(5), "Properties" of Unit and Service objects).
 */
export interface ServiceState {
  readonly LoadState: string;
  readonly ActiveState: string;
  readonly SubState: string;
  readonly Result: string;
  /** ActiveEnterTimestamp; undefined when 0 (never entered). */
  readonly ActiveEnterTimestamp?: Date;
  /** MainPID; undefined when 0 (no main process). */
  readonly MainPID?: number;
  /** TasksCurrent; undefined when systemd does not know (UINT64_MAX). */
  readonly TasksCurrent?: number;
  /** MemoryCurrent in bytes; undefined when systemd does not know (UINT64_MAX). */
  readonly MemoryCurrent?: number;
  readonly NRestarts: number;
  /** ExecMainStatus when ExecMainCode is CLD_EXITED. */
  readonly exitStatus?: number;
  /** ExecMainStatus when ExecMainCode is CLD_KILLED or CLD_DUMPED (a signal number). */
  readonly exitSignal?: number;
  /** ControlGroup: the unit's cgroup path below the hierarchy root; undefined when it has none. */
  readonly ControlGroup?: string;
  /** StateChangeTimestamp: when the unit's state last changed; undefined when 0 (never, or not loaded). */
  readonly StateChangeTimestamp?: Date;
}

export function readServiceState(props: UnitProperties): ServiceState {
  const code = Number(props.ExecMainCode ?? 0);
  const status = Number(props.ExecMainStatus ?? 0);
  return {
    LoadState: text(props.LoadState),
    ActiveState: text(props.ActiveState),
    SubState: text(props.SubState),
    Result: text(props.Result),
    ActiveEnterTimestamp: usecToDate(props.ActiveEnterTimestamp),
    MainPID: positive(props.MainPID),
    TasksCurrent: knownCounter(props.TasksCurrent),
    MemoryCurrent: knownCounter(props.MemoryCurrent),
    NRestarts: Number(props.NRestarts ?? 0),
    exitStatus: code === CLD_EXITED ? status : undefined,
    exitSignal: code > CLD_EXITED ? status : undefined,
    ControlGroup: typeof props.ControlGroup === 'string' && props.ControlGroup !== '' ? props.ControlGroup : undefined,
    StateChangeTimestamp: usecToDate(props.StateChangeTimestamp),
  };
}

/** A string property (D-Bus type `s`); empty when systemd did not send it. */
function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** Whether a unit in this ActiveState has (or is getting) processes; undefined: nothing known. */
export function hasProcesses(activeState: string | undefined): boolean {
  return activeState !== undefined && !WITHOUT_PROCESSES.has(activeState);
}

/** Whether a unit in this ActiveState has started in its current activation (see STARTED). */
export function hasStarted(activeState: string): boolean {
  return STARTED.has(activeState);
}

function usecToDate(value: unknown): Date | undefined {
  if (typeof value !== 'bigint' || value === 0n || value === UINT64_MAX) return undefined;
  return new Date(Number(value / 1000n));
}

/** A uint64 counter systemd reported, or undefined when it does not know it (UINT64_MAX). */
export function knownCounter(value: unknown): number | undefined {
  if (typeof value !== 'bigint' || value === UINT64_MAX) return undefined;
  return Number(value);
}

function positive(value: unknown): number | undefined {
  const n = Number(value ?? 0);
  return n > 0 ? n : undefined;
}

/** The unit's current invocation as systemd holds it (org.freedesktop.systemd1(5), Unit and Service). */
export interface CurrentInvocation {
  /** InvocationID as 32 hex digits; undefined before the unit's first start. */
  readonly id?: string;
  readonly activeState: string;
  readonly subState: string;
  /** Result: `success`, `exit-code`, … of the last run. */
  readonly result: string;
  /** ExecMainCode as systemd words it (CLD_EXITED, CLD_KILLED, CLD_DUMPED); undefined before it ran. */
  readonly exitCode?: 'exited' | 'killed' | 'dumped';
  /** ExecMainStatus: the exit status, or the signal. */
  readonly exitStatus?: number;
  /** InactiveEnterTimestamp in µs: when it last became inactive (or failed). */
  readonly inactiveEnterUsec?: bigint;
  /** ExecMainPID: the main process of the current (or last) run, kept after it exits. */
  readonly mainPid?: number;
}

const EXIT_CODES = { 1: 'exited', 2: 'killed', 3: 'dumped' } as const;

export function readCurrentInvocation(props: UnitProperties): CurrentInvocation {
  const id = props.InvocationID;
  const code = Number(props.ExecMainCode ?? 0) as keyof typeof EXIT_CODES;
  const inactive = props.InactiveEnterTimestamp;
  return {
    id: id instanceof Uint8Array && id.length === 16 && id.some((byte) => byte !== 0) ? Buffer.from(id).toString('hex') : undefined,
    activeState: text(props.ActiveState),
    subState: text(props.SubState),
    result: text(props.Result),
    exitCode: EXIT_CODES[code],
    exitStatus: EXIT_CODES[code] === undefined ? undefined : Number(props.ExecMainStatus ?? 0),
    inactiveEnterUsec: typeof inactive === 'bigint' && inactive > 0n ? inactive : undefined,
    mainPid: positive(props.ExecMainPID),
  };
}
