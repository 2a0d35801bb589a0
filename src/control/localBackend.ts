import type {
  ActionOptions,
  CallScope,
  DisableOptions,
  EnableOptions,
  LogsRequest,
  RunsOptions,
  OnHost,
  PageRequest,
  StatusOptions,
  StatusReport,
  StreamBackend,
  StreamPage,
  StreamWatch,
  WatchListener,
  WatchOptions,
} from '../core/backend.js';
import { NotFoundError } from '../core/errors.js';
import type { LogBatch } from '../core/logLine.js';
import { paginate } from '../core/paging.js';
import type { StreamRun } from '../core/run.js';
import type { Action, ActionResult, EnablementResult } from '../core/status.js';
import { parseTeam, type StreamRef } from '../core/streamRef.js';
import type { RunLines } from './runLines.js';
import type { StreamController } from './streamController.js';
import type { StreamLogs } from './streamLogs.js';
import type { StreamRuns } from './streamRuns.js';
import type { StreamView } from './streamView.js';

/**
 * The streams of this host's systemd: reads from the live StreamView, actions through the
 * StreamController, logs and runs from the journal. `host` is this host's name (`--host-name`): every
 * answer is this host's, and a call that names another host is NOT_FOUND.
 */
export class LocalBackend implements StreamBackend {
  constructor(
    private readonly controller: StreamController,
    private readonly view: StreamView,
    private readonly streamLogs: StreamLogs,
    private readonly runLines: RunLines,
    private readonly streamRuns: StreamRuns,
    readonly host: string,
  ) {}

  /** The team's declared streams with their state, from memory (UNAVAILABLE without systemd). */
  async list(team: string, page: PageRequest): Promise<StreamPage> {
    this.onThisHost(page);
    const parsed = parseTeam(team);
    return paginate(parsed, await this.view.list(parsed), page.pageSize, page.pageToken);
  }

  async status(ref: StreamRef, options: StatusOptions, call: CallScope): Promise<StatusReport> {
    this.onThisHost(options);
    const status = await this.view.status(ref, { freshUsage: options.freshUsage });
    const logs = await this.runLines.ofCurrentRun(ref, options.logLines, { signal: call.signal, identity: identityOf(call) });
    return { status, logs: logs.lines, logsUnavailable: logs.unavailable };
  }

  async act(action: Action, ref: StreamRef, options: ActionOptions, call: CallScope): Promise<ActionResult> {
    this.onThisHost(options);
    return this.controller[action](ref, { settleMs: options.settleMs, signal: call.signal, deadline: call.deadline });
  }

  async enable(ref: StreamRef, options: EnableOptions, call: CallScope): Promise<EnablementResult> {
    this.onThisHost(options);
    return this.controller.enable(ref, { now: options.now, settleMs: options.settleMs, signal: call.signal, deadline: call.deadline });
  }

  async disable(ref: StreamRef, options: DisableOptions, call: CallScope): Promise<EnablementResult> {
    this.onThisHost(options);
    return this.controller.disable(ref, { now: options.now, signal: call.signal, deadline: call.deadline });
  }

  async watch(team: string, options: WatchOptions, listener: WatchListener): Promise<StreamWatch> {
    this.onThisHost(options);
    return this.view.watch(team, options.name, listener);
  }

  async *logs(ref: StreamRef, request: LogsRequest, call: CallScope): AsyncIterable<LogBatch> {
    this.onThisHost(request);
    yield* this.streamLogs.read(ref, request, { identity: identityOf(call), signal: call.signal });
  }

  async runs(ref: StreamRef, options: RunsOptions, call: CallScope): Promise<StreamRun[]> {
    this.onThisHost(options);
    return this.streamRuns.runs(ref, options.limit, { identity: identityOf(call), signal: call.signal });
  }

  /** A call for another host is not for this server: NOT_FOUND, naming both. */
  private onThisHost({ host }: OnHost): void {
    if (host !== undefined && host !== '' && host !== this.host) {
      throw new NotFoundError(`host '${host}' is not served here: this server is host '${this.host}'`);
    }
  }
}

/** Whom a call counts against: its identity, or `anonymous` on a server without an access file. */
function identityOf(call: CallScope): string {
  return call.caller ?? 'anonymous';
}
