import type { FailureCode } from './errors.js';
import type { LogBatch, LogLine } from './logLine.js';
import type { StreamRun } from './run.js';
import type { Page } from './paging.js';
import type { Action, ActionResult, EnablementResult, StreamStatus, StreamSummary } from './status.js';
import type { StreamRef } from './streamRef.js';
import type { WaitLimits } from './waitWithin.js';

/**
 * What StreamService needs from whatever runs the streams: the local backend (src/control, one
 * host's systemd) or the fleet's (src/fleet, many hosts' agents). The API handlers (src/api) are
 * written against this and nothing else; every value is in the product's words, never gRPC's or
 * systemd's. Inputs are validated before they get here (StreamRef, a parsed team).
 */
export interface StreamBackend {
  /**
   * The host whose streams these are, when the backend serves one (the local backend: the
   * server's `--host-name`): every value it answers is that host's. Absent for a backend of several
   * hosts (the fleet's), whose values each name their own `host`.
   */
  readonly host?: string;
  /** The team's declared streams, by name (then host), one page at a time. */
  list(team: string, page: PageRequest, call: CallScope): Promise<StreamPage>;
  /** The stream's status, and its newest log lines when asked for. */
  status(ref: StreamRef, options: StatusOptions, call: CallScope): Promise<StatusReport>;
  /** Starts, stops or restarts the stream; the answer is what systemd did. */
  act(action: Action, ref: StreamRef, options: ActionOptions, call: CallScope): Promise<ActionResult>;
  /**
   * Makes the stream start at boot (`systemctl enable`), and with `now` starts it too; the answer
   * lists what systemd changed.
   */
  enable(ref: StreamRef, options: EnableOptions, call: CallScope): Promise<EnablementResult>;
  /** Undoes enable (`systemctl disable`), and with `now` stops the stream too. */
  disable(ref: StreamRef, options: DisableOptions, call: CallScope): Promise<EnablementResult>;
  /**
   * Calls `listener` with each change of the team's streams (or of one) from now on; `initial` is
   * their status when it began, taken so that no change falls between the two.
   */
  watch(team: string, options: WatchOptions, listener: WatchListener, call: CallScope): Promise<StreamWatch>;
  /** The stream's log lines as asked, oldest first; with `follow`, then each new one until `call.signal` aborts. */
  logs(ref: StreamRef, request: LogsRequest, call: CallScope): AsyncIterable<LogBatch>;
  /** The stream's recent runs, newest first: how each began and ended, and its own last lines. */
  runs(ref: StreamRef, options: RunsOptions, call: CallScope): Promise<StreamRun[]>;
}

export interface RunsOptions extends OnHost {
  /** At most this many runs (1 to MAX_RUNS). */
  readonly limit: number;
}

/**
 * The gRPC metadata key by which a fleet gateway names the caller it forwards a call for: the
 * caller's identity name in the gateway's access file. Agents take it only from an identity that
 * holds the `gateway` role, and refuse it from anyone else.
 */
export const ON_BEHALF_OF_METADATA = 'lit-stream-on-behalf-of';

/** The call a backend works for: its caller, deadline and cancellation. */
export interface CallScope extends WaitLimits {
  /** Who is calling (the access file's identity name), when known: a backend that forwards the call says so. */
  readonly caller?: string;
}

/**
 * Which host a call is about: the one the caller named, or (absent or empty) whichever serves the
 * stream — for a list or a watch, every host the backend serves. A backend that serves one host
 * answers NOT_FOUND for any other.
 */
export interface OnHost {
  readonly host?: string;
}

export interface PageRequest extends OnHost {
  /** 0: the default page size. */
  readonly pageSize: number;
  /** Empty for the first page. */
  readonly pageToken: string;
}

/** A page of a team's streams, and the hosts whose streams it lacks. */
export interface StreamPage extends Page<StreamSummary> {
  /** Hosts that did not answer, or answered with an error: their streams are missing. */
  readonly hostErrors?: readonly HostError[];
}

/**
 * One host of several that did not answer, or answered with an error, within a call that asked
 * them all: its part of the answer is missing, the rest is complete.
 */
export interface HostError {
  /** The host's name (or the discovery entry that failed to name hosts). */
  readonly host: string;
  /** What it answered, or DEADLINE_EXCEEDED / UNAVAILABLE when it did not. */
  readonly code: FailureCode;
  readonly message: string;
}

export interface StatusOptions extends OnHost {
  /** How many of the newest log lines of the stream's current run to include; 0: none. */
  readonly logLines: number;
  /** Measure tasks and memory now rather than serve the last figures (which say how old they are). */
  readonly freshUsage?: boolean;
}

export interface StatusReport {
  readonly status: StreamStatus;
  readonly logs: readonly LogLine[];
  /** Why `logs` is empty although lines were asked for (the journal cannot be read). */
  readonly logsUnavailable?: string;
}

export interface ActionOptions extends OnHost {
  /** How long a started worker must hold before a Start or Restart succeeds, ms; absent: the backend's default, 0: off. */
  readonly settleMs?: number;
}

export interface EnableOptions extends ActionOptions {
  /** Also start the stream, answered as Start is. */
  readonly now: boolean;
}

export interface DisableOptions extends OnHost {
  /** Also stop the stream, answered as Stop is. */
  readonly now: boolean;
}

export type StreamChangeKind = 'changed' | 'removed';

/** A change of a watched stream. The status carries no tasks and memory (not signalled). */
export interface StreamChange {
  readonly kind: StreamChangeKind;
  readonly status: StreamStatus;
}

export type StreamListener = (change: StreamChange) => void;

/** A host stopped answering a watch: what was said of its streams is no longer current. */
export interface HostLost {
  readonly kind: 'hostLost';
  readonly hostError: HostError;
}

/** What a watcher is told: a stream's change, or (of a fleet) a host it no longer hears from. */
export type WatchEvent = StreamChange | HostLost;

export type WatchListener = (event: WatchEvent) => void;

export interface WatchOptions extends OnHost {
  /** One stream; absent: every stream of the team, including ones declared later. */
  readonly name?: string;
}

export interface StreamWatch {
  readonly initial: readonly StreamStatus[];
  /** Stops the listener. */
  stop(): void;
}

/** What a Logs call asks for. */
export interface LogsRequest extends OnHost {
  /** The newest this many lines (default 10, or up to MAX_TAIL_LINES when `since` is set); 0: none. */
  readonly tailLines?: number;
  /** No line older than this (µs since the epoch). */
  readonly sinceUsec?: bigint;
  /** Every line after this cursor instead of the newest ones (up to MAX_TAIL_LINES unless following). */
  readonly afterCursor?: string;
  /** Go on sending lines as they are written, until cancelled. */
  readonly follow: boolean;
}
