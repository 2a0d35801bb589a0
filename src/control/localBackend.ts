import type { ActionOptions, CallScope, LogsRequest, PageRequest, StatusOptions, StatusReport, StreamBackend, StreamListener, StreamWatch } from '../core/backend.js';
import type { LogBatch } from '../core/logLine.js';
import { type Page, paginate } from '../core/paging.js';
import type { Action, ActionResult, StreamSummary } from '../core/status.js';
import { parseTeam, type StreamRef } from '../core/streamRef.js';
import type { RunLines } from './runLines.js';
import type { StreamController } from './streamController.js';
import type { StreamLogs } from './streamLogs.js';
import type { StreamView } from './streamView.js';

/**
 * The streams of this host's systemd: reads from the live StreamView, actions through the
 * StreamController, logs from the journal.
 */
export class LocalBackend implements StreamBackend {
  constructor(
    private readonly controller: StreamController,
    private readonly view: StreamView,
    private readonly streamLogs: StreamLogs,
    private readonly runLines: RunLines,
  ) {}

  /** The team's declared streams with their state, from memory (UNAVAILABLE without systemd). */
  async list(team: string, page: PageRequest): Promise<Page<StreamSummary>> {
    const parsed = parseTeam(team);
    return paginate(parsed, await this.view.list(parsed), page.pageSize, page.pageToken);
  }

  async status(ref: StreamRef, { logLines, freshUsage }: StatusOptions, call: CallScope): Promise<StatusReport> {
    const status = await this.view.status(ref, { freshUsage });
    const logs = await this.runLines.ofCurrentRun(ref, logLines, call.signal);
    return { status, logs: logs.lines, logsUnavailable: logs.unavailable };
  }

  act(action: Action, ref: StreamRef, options: ActionOptions, call: CallScope): Promise<ActionResult> {
    return this.controller[action](ref, { ...options, signal: call.signal, deadline: call.deadline });
  }

  watch(team: string, name: string | undefined, listener: StreamListener): Promise<StreamWatch> {
    return this.view.watch(team, name, listener);
  }

  logs(ref: StreamRef, request: LogsRequest, call: CallScope): AsyncIterable<LogBatch> {
    return this.streamLogs.read(ref, request, call.signal);
  }
}
