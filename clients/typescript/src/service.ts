import type { CallOptions, Metadata, ServiceError } from '@grpc/grpc-js';
import { formatBytes, formatTimestamp } from './format.js';
import { activeStateWord, loadStateWord, type UsageSourceWord, usageSourceWord } from './stateWords.js';
import {
  ActionStatus,
  type StartResponse,
  type StreamServiceClient,
  type StreamStatus,
  type UnitFileChange,
} from './gen/lit/stream/v1/stream.js';
import { callMetadata, type ConnectionOptions, streamServiceClient } from './connection.js';
import { LitStreamError } from './errors.js';
import type { LogLine } from './logs.js';

/** The outcome of start/stop/restart, as the Python SDK's ServiceActionStatus. */
export interface ServiceActionStatus {
  readonly status: 'SUCCESS' | 'FAILURE';
  readonly message: string;
}

/** What Stream.act() answers: the SDK's outcome, with systemd's job result and this start's lines. */
export interface ActionOutcome extends ServiceActionStatus {
  /**
   * systemd's job result (`done`, `canceled`, `failed`, `timeout`, …); `canceled` too for a start
   * a Stop cancelled before it reached systemd (the message says so).
   */
  readonly jobResult: string;
  /**
   * Start and Restart: the stream's log lines since this start began, oldest first (none when the
   * server reads no journal, or for a plain success it did not wait on); Stop: none (the server
   * sends none with a stop).
   */
  readonly logs: readonly LogLine[];
}

/** What Stream.enable() and disable() answer: act()'s answer with `now`, and what changed on disk. */
export interface EnableOutcome extends ActionOutcome {
  /**
   * systemd's changes: a `symlink` created (to `destination`) or `unlink`ed; empty when nothing had
   * to change (already enabled, or not enabled).
   */
  readonly changes: readonly UnitFileChange[];
  /** The stream's UnitFileState afterwards: `enabled`, `disabled`, … */
  readonly unitFileState: string;
}

/**
 * Typed values behind a ServiceStatus, for programs: systemd's words (org.freedesktop.systemd1(5):
 * LoadState, ActiveState, SubState, Result), a Date, byte counts; absent where systemd has no value.
 */
export interface ServiceStatusDetails {
  readonly team: string;
  /** The host the stream runs on, when the server says (an agent's `--host-name`, a fleet gateway's name for it). */
  readonly host?: string;
  readonly unit: string;
  /** `loaded`, `not-found`, `bad-setting`, `error`, `masked`; `` when systemd has not loaded it. */
  readonly loadState: string;
  /** `active`, `reloading`, `inactive`, `failed`, `activating`, `deactivating`, `maintenance`. */
  readonly activeState: string;
  readonly subState: string;
  /** When the stream last became active (systemd's ActiveEnterTimestamp). */
  readonly started?: Date;
  readonly mainPid?: number;
  readonly tasks?: number;
  readonly memoryBytes?: number;
  readonly usageSource: UsageSourceWord;
  /**
   * True when `tasks` and `memoryBytes` (so the formatted `tasks` and `memory` too) cover only some
   * of the stream's processes and are lower bounds: the server reads at most so many processes per
   * sample (StreamStatus.usage_partial). When none could be read in time, both are absent. Always
   * set by this client; optional in the type only so that code building details of its own (tests,
   * fakes) written before it keeps compiling.
   */
  readonly usagePartial?: boolean;
  readonly restartCount: number;
  readonly result: string;
  readonly exitStatus?: number;
  readonly exitSignal?: number;
  /**
   * systemd's UnitFileState: whether the stream starts at boot (`enabled`, `disabled`, `static`,
   * `masked`, …); absent when the server does not say.
   */
  readonly unitFileState?: string;
  /** status(): the newest log lines since the stream last started (up to 10). */
  readonly logs?: readonly LogLine[];
  /** status(): why `logs` is empty, when the server could not read the journal. */
  readonly logsUnavailable?: string;
}

/**
 * What `systemctl status` shows, as the Python SDK's ServiceStatus:
 * `{name: 'bitcoin', active: 'active', status: 'running', started: 'Wed 2024-07-24 13:32:23 CDT',
 *   pid: 3687984, tasks: 5, memory: '3.3G'}`; fields systemd has no value for are null. `tasks` and
 * `memory` keep the seed's shapes, so where they are lower bounds only `details.usagePartial` says so.
 */
export interface ServiceStatus {
  readonly name: string;
  readonly active: string;
  readonly status: string;
  readonly started: string | null;
  readonly pid: number | null;
  readonly tasks: number | null;
  readonly memory: string | null;
  readonly details: ServiceStatusDetails;
}

/**
 * Default deadline of a call that reads; the Python client's READ_TIMEOUT is the same
 * (clients/testdata/defaults.json holds both to it).
 */
export const READ_DEADLINE_MS = 10_000;
/**
 * Default deadline of start/stop/restart, which answer once systemd's job has finished (and the
 * settle window has passed); the Python client's ACTION_TIMEOUT is the same (defaults.json).
 */
export const ACTION_DEADLINE_MS = 120_000;

type Unary<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => unknown;

/** Base of the SDK's service wrappers: a connection to lit-streamd and typed, promise-based calls. */
export class Service {
  protected readonly client: StreamServiceClient;

  constructor(protected readonly options: ConnectionOptions = {}) {
    this.client = streamServiceClient(options);
  }

  /** Calls a unary method; failures reject with LitStreamError carrying the gRPC code. */
  protected call<Req, Res>(method: Unary<Req, Res>, request: Req, kind: 'read' | 'action' = 'read'): Promise<Res> {
    const deadlineMs = this.deadlineMs(kind);
    return new Promise((resolve, reject) => {
      method.call(this.client, request, callMetadata(this.options), { deadline: Date.now() + deadlineMs }, (error, response) =>
        error ? reject(LitStreamError.from(error)) : resolve(response),
      );
    });
  }

  /** How long a call that ends by itself may take: the connection's `deadlineMs`, else the default. */
  protected deadlineMs(kind: 'read' | 'action'): number {
    return this.options.deadlineMs ?? (kind === 'action' ? ACTION_DEADLINE_MS : READ_DEADLINE_MS);
  }
}

export function toActionStatus(response: Pick<StartResponse, 'status' | 'message'>): ServiceActionStatus {
  return {
    status: response.status === ActionStatus.ACTION_STATUS_SUCCESS ? 'SUCCESS' : 'FAILURE',
    message: response.message,
  };
}

export function toServiceStatus(status: StreamStatus, timeZone?: string): ServiceStatus {
  const details: ServiceStatusDetails = {
    team: status.team,
    ...(status.host ? { host: status.host } : {}),
    unit: status.unit,
    loadState: loadStateWord(status.loadState),
    activeState: activeStateWord(status.activeState),
    subState: status.subState,
    started: status.started,
    mainPid: status.mainPid,
    tasks: status.tasks,
    memoryBytes: status.memoryBytes,
    usageSource: usageSourceWord(status.usageSource),
    usagePartial: status.usagePartial,
    restartCount: status.restartCount,
    result: status.result,
    exitStatus: status.exitStatus,
    exitSignal: status.exitSignal,
    ...(status.unitFileState ? { unitFileState: status.unitFileState } : {}),
  };
  return {
    name: status.name,
    active: details.activeState,
    status: details.subState,
    started: details.started ? formatTimestamp(details.started, timeZone) : null,
    pid: details.mainPid ?? null,
    tasks: details.tasks ?? null,
    memory: details.memoryBytes !== undefined ? formatBytes(details.memoryBytes) : null,
    details,
  };
}
