import { inspect } from 'node:util';
import type { DisableResponse, EnableResponse, RestartResponse, StartRequest, StartResponse } from './gen/lit/stream/v1/stream.js';
import { callMetadata, type ConnectionOptions } from './connection.js';
import { type DroppedLines, type LogLine, logEntries, type LogsOptions, toLogLine } from './logs.js';
import { type StreamRun, toStreamRun } from './runs.js';
import { type StreamEvent, streamEvents } from './watch.js';
import { type ActionOutcome, type EnableOutcome, Service, type ServiceActionStatus, type ServiceStatus, toActionStatus, toServiceStatus } from './service.js';

/**
 * Log lines status() asks for, as `systemctl status` shows; the Python client's STATUS_LOG_LINES is
 * the same (clients/testdata/defaults.json holds both to it).
 */
export const STATUS_LOG_LINES = 10;

/**
 * A real-time data-streaming service worker, as in the Python SDK:
 *
 *     const stream = new Stream('contoso', 'bitcoin');
 *     await stream.start();   // { status: 'SUCCESS', message: 'Stream started successfully.' }
 *     await stream.status();  // { name: 'bitcoin', active: 'active', status: 'running', ... }
 */

/** Where to reach lit-streamd, and (through a fleet gateway) which host's stream this is. */
export interface StreamOptions extends ConnectionOptions {
  /**
   * The host whose stream this is; absent: the one host that declares it (through a fleet
   * gateway), or the agent's own. Streams from getStreams() carry the host the server named.
   */
  readonly host?: string;
}

export class Stream extends Service {
  /** The host the stream runs on, when known (a gateway's answers, an agent's `--host-name`). */
  readonly host?: string;

  /**
   * @param team The name of the team that owns the Stream.
   * @param name The name of the Stream.
   * @param options Where to reach lit-streamd; `host` names the host whose stream this is.
   */
  constructor(
    readonly team: string,
    readonly name: string,
    { host, ...connection }: StreamOptions = {},
  ) {
    super(connection);
    if (host) this.host = host;
  }

  /** Starts the stream; resolves once systemd has finished starting it. */
  async start(): Promise<ServiceActionStatus> {
    return sdkShape(await this.act('start'));
  }

  /** Stops the stream; stopping a stopped stream succeeds. */
  async stop(): Promise<ServiceActionStatus> {
    return sdkShape(await this.act('stop'));
  }

  /** Restarts the stream (starts it if it was stopped). */
  async restart(): Promise<ServiceActionStatus> {
    return sdkShape(await this.act('restart'));
  }

  /**
   * start(), stop() or restart() with all the server answered, for programs that want more than
   * the SDK's `{status, message}`: systemd's job result and, for a start or restart, the stream's
   * log lines since this start began (those a failure is explained by).
   */
  async act(action: 'start' | 'stop' | 'restart'): Promise<ActionOutcome> {
    switch (action) {
      case 'stop': {
        const response = await this.call(this.client.stop, this.ref(), 'action');
        return { ...toActionStatus(response), jobResult: response.jobResult, logs: [] };
      }
      case 'start':
      case 'restart': {
        const method = action === 'start' ? this.client.start : this.client.restart;
        const response = await this.call<StartRequest, StartResponse | RestartResponse>(method, this.ref(), 'action');
        return { ...toActionStatus(response), jobResult: response.jobResult, logs: response.logs.map(toLogLine) };
      }
      default:
        // Not a restart by default: a JavaScript caller's typo must not restart a live stream.
        throw new TypeError(`act(): unknown action ${JSON.stringify(action)}: use 'start', 'stop' or 'restart'`);
    }
  }

  /**
   * Makes the stream start at boot, as `systemctl enable` does; with `now`, starts it too and
   * answers as act('start'). Enabling an enabled stream succeeds with no `changes`.
   */
  async enable(options: { readonly now?: boolean } = {}): Promise<EnableOutcome> {
    return toEnableOutcome(await this.call(this.client.enable, { ...this.ref(), now: options.now ?? false }, 'action'));
  }

  /** Undoes enable(), as `systemctl disable` does; with `now`, stops the stream too. */
  async disable(options: { readonly now?: boolean } = {}): Promise<EnableOutcome> {
    return toEnableOutcome(await this.call(this.client.disable, { ...this.ref(), now: options.now ?? false }, 'action'));
  }

  /**
   * The stream's current status, formatted as `systemctl status` shows it, with its last 10 log
   * lines since it last started in `details.logs` (as `systemctl status` shows them);
   * `{ logLines: 0 }` asks for none (no journal read on the server, e.g. for a whole team's table).
   */
  async status(options: { readonly logLines?: number } = {}): Promise<ServiceStatus> {
    const response = await this.call(this.client.getStatus, { ...this.ref(), logLines: options.logLines ?? STATUS_LOG_LINES });
    if (!response.status) throw new Error('lit-streamd answered GetStatus without a status');
    const status = toServiceStatus(response.status);
    const logs = response.logs.map(toLogLine);
    const logsUnavailable = response.logsUnavailable || undefined;
    return { ...status, details: { ...status.details, logs, ...(logsUnavailable ? { logsUnavailable } : {}) } };
  }

  /**
   * The stream's log lines: the newest ones (`tail`, default 10), or those since a time or after a
   * cursor, then with `follow` each new one:
   * `for await (const line of stream.logs({ follow: true })) console.log(line.message)`.
   * A follower that reads slower than the stream writes gets `{ kind: 'dropped', count }` where lines
   * were skipped. The call opens at the first iteration; leaving the loop cancels it. Its deadline
   * (`deadlineMs`) counts from then.
   */
  logs(options: LogsOptions = {}): AsyncGenerator<LogLine | DroppedLines> {
    const request = {
      ...this.ref(),
      tailLines: options.tail,
      follow: options.follow ?? false,
      since: options.since,
      afterCursor: options.afterCursor ?? '',
    };
    // A follow is meant to run until the loop is left, so the connection's deadline (for calls that
    // end by themselves) is not its; only one given for this call is.
    const deadlineMs = options.deadlineMs ?? (options.follow ? undefined : this.deadlineMs('read'));
    // The deadline is reckoned when the call opens (the generator's first next()), not here: a
    // logs() made now and iterated later still has all of its time.
    const callOptions = () => (deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs });
    return logEntries(() => this.client.logs(request, callMetadata(this.options), callOptions()));
  }

  /**
   * The stream's recent runs, newest first (`limit`, default 10, at most 100): when each began and
   * ended, how (systemd's result, exit code or signal), which automatic restart it was, and its own
   * last lines — what explains a crash loop. Needs the logs role.
   */
  async runs(options: { readonly limit?: number } = {}): Promise<StreamRun[]> {
    const response = await this.call(this.client.listRuns, { ...this.ref(), limit: options.limit ?? 0 });
    return response.runs.map(toStreamRun);
  }

  /**
   * The stream's status now, then every change as it happens:
   * `for await (const { kind, status } of stream.watch()) console.log(kind, status.active)`.
   * The call opens at the first iteration; it runs until the loop is left or the server goes away
   * (no deadline).
   */
  watch(): AsyncGenerator<StreamEvent> {
    return streamEvents(() => this.client.watchStatus(this.ref(), callMetadata(this.options)));
  }

  override toString(): string {
    return `Stream(team='${this.team}', name='${this.name}'${this.host ? `, host='${this.host}'` : ''})`;
  }

  [inspect.custom](): string {
    return this.toString();
  }

  private ref(): { team: string; name: string; host?: string } {
    return this.host ? { team: this.team, name: this.name, host: this.host } : { team: this.team, name: this.name };
  }
}

function toEnableOutcome(response: EnableResponse | DisableResponse): EnableOutcome {
  return {
    ...toActionStatus(response),
    jobResult: response.jobResult,
    logs: 'logs' in response ? response.logs.map(toLogLine) : [],
    changes: response.changes.map(({ type, path, destination }) => ({ type, path, destination })),
    unitFileState: response.stream?.unitFileState ?? '',
  };
}

/** The Python SDK's `{status, message}`, nothing more: what start(), stop() and restart() answer. */
function sdkShape({ status, message }: ActionOutcome): ServiceActionStatus {
  return { status, message };
}
