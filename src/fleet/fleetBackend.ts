import type {
  ActionOptions,
  CallScope,
  DisableOptions,
  EnableOptions,
  HostError,
  LogsRequest,
  PageRequest,
  RunsOptions,
  StatusOptions,
  StatusReport,
  StreamBackend,
  StreamPage,
  StreamWatch,
  WatchListener,
  WatchOptions,
} from '../core/backend.js';
import { StreamNotDeclaredError } from '../core/errors.js';
import type { LogBatch } from '../core/logLine.js';
import { type PageKey, paginate } from '../core/paging.js';
import type { StreamRun } from '../core/run.js';
import type { Action, ActionResult, EnablementResult, StreamSummary } from '../core/status.js';
import { isValidStreamName, type StreamRef } from '../core/streamRef.js';
import { isValidHostName } from '../core/hostName.js';
import type { ListStreamsResponse, LogsResponse } from '../../gen/lit/stream/v1/stream.js';
import type { Agent, HostCallScope } from './agent.js';
import { HostNotInFleetError, HostsDidNotAnswerError, StreamOnSeveralHostsError } from './errors.js';
import { actionFromProto, enablementFromProto, logLineFromProto, runFromProto, statusFromProto, summaryFromProto } from './fromProto.js';
import { HostFailure } from './hostFailure.js';
import type { Membership } from './membership.js';
import { byNameThenHost } from './teamWatch.js';
import type { TeamWatches } from './teamWatches.js';

/** Streams asked of an agent per ListStreams page (its maximum). */
const AGENT_PAGE_SIZE = 1_000;

/**
 * Rows of the fleet, paged by name then host. The key joins them with NUL, which sorts before any
 * character of a name, so the keys sort as the rows do.
 */
const BY_NAME_THEN_HOST: PageKey<StreamSummary> = {
  of: (row) => `${row.name}\u0000${row.host ?? ''}`,
  valid: (key) => {
    const [name, host, ...rest] = key.split('\u0000');
    return rest.length === 0 && name !== undefined && host !== undefined && isValidStreamName(name) && isValidHostName(host);
  },
};

/**
 * StreamService over the fleet's agents (gateway mode): no systemd here, and nothing kept that
 * matters — each host's lit-streamd stays the authority for its units.
 * - `list` asks every host in parallel, each within the per-host deadline (and the caller's), and
 *   merges the rows of those that answered, by name then host; the others are `hostErrors`.
 * - `status`, `act`, `enable`, `disable`, `logs`, `runs` go to the host named, or else to the one host that declares the stream,
 *   known from the team's upstream watches (TeamWatch), not from a list per call.
 * - `watch` shares one upstream watch per (host, team) among every watcher.
 */
export class FleetBackend implements StreamBackend {
  constructor(
    private readonly membership: Membership,
    private readonly teams: TeamWatches,
  ) {}

  async list(team: string, page: PageRequest, call: CallScope): Promise<StreamPage> {
    const agents = page.host === undefined ? this.membership.hosts : [this.agentNamed(page.host)];
    const scope: HostCallScope = { ...call, hostDeadline: Date.now() + this.membership.deadlineMs };
    const rows: StreamSummary[] = [];
    const hostErrors: HostError[] = [];
    await Promise.all(
      agents.map(async (agent) => {
        try {
          rows.push(...(await listAll(agent, team, scope)));
        } catch (error) {
          hostErrors.push(HostFailure.from(agent.host, error).hostError);
        }
      }),
    );
    if (page.host === undefined) hostErrors.push(...this.membership.discoveryErrors());
    rows.sort(byNameThenHost);
    hostErrors.sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
    return { ...paginate(team, rows, page.pageSize, page.pageToken, BY_NAME_THEN_HOST), hostErrors };
  }

  async status(ref: StreamRef, options: StatusOptions, call: CallScope): Promise<StatusReport> {
    const agent = await this.route(ref, options.host, call);
    const response = await agent.call(
      agent.streams.getStatus,
      { team: ref.team, name: ref.name, logLines: options.logLines, freshUsage: options.freshUsage },
      call,
    );
    if (!response.status) throw new HostFailure(agent.host, 'INTERNAL', 'answered GetStatus without a status');
    return {
      status: statusFromProto(response.status, agent.host),
      logs: response.logs.map((entry) => logLineFromProto(entry, agent.host)),
      ...(response.logsUnavailable ? { logsUnavailable: response.logsUnavailable } : {}),
    };
  }

  async act(action: Action, ref: StreamRef, options: ActionOptions, call: CallScope): Promise<ActionResult> {
    const agent = await this.route(ref, options.host, call);
    const request = { team: ref.team, name: ref.name, settle: options.settleMs === undefined ? undefined : durationOf(options.settleMs) };
    const { streams } = agent;
    switch (action) {
      case 'start':
        return actionFromProto(await agent.call(streams.start, request, call), agent.host);
      case 'restart':
        return actionFromProto(await agent.call(streams.restart, request, call), agent.host);
      case 'stop':
        return actionFromProto(await agent.call(streams.stop, { team: ref.team, name: ref.name }, call), agent.host);
    }
  }

  async enable(ref: StreamRef, options: EnableOptions, call: CallScope): Promise<EnablementResult> {
    const agent = await this.route(ref, options.host, call);
    const request = { team: ref.team, name: ref.name, now: options.now, settle: options.settleMs === undefined ? undefined : durationOf(options.settleMs) };
    return enablementFromProto(await agent.call(agent.streams.enable, request, call), agent.host);
  }

  async disable(ref: StreamRef, options: DisableOptions, call: CallScope): Promise<EnablementResult> {
    const agent = await this.route(ref, options.host, call);
    return enablementFromProto(await agent.call(agent.streams.disable, { team: ref.team, name: ref.name, now: options.now }, call), agent.host);
  }

  async watch(team: string, options: WatchOptions, listener: WatchListener, call: CallScope): Promise<StreamWatch> {
    if (options.host !== undefined) this.agentNamed(options.host);
    const teamWatch = this.teams.of(team, call.caller);
    await teamWatch.ready(call, this.membership.deadlineMs, options.host);
    const watch = teamWatch.subscribe({ name: options.name, host: options.host }, listener);
    return {
      initial: watch.initial,
      stop: () => {
        teamWatch.lastUsed = Date.now();
        watch.stop();
      },
    };
  }

  async *logs(ref: StreamRef, request: LogsRequest, call: CallScope): AsyncIterable<LogBatch> {
    const agent = await this.route(ref, request.host, call);
    const stream = agent.streams.logs(
      {
        team: ref.team,
        name: ref.name,
        tailLines: request.tailLines,
        follow: request.follow,
        since: request.sinceUsec === undefined ? undefined : new Date(Number(request.sinceUsec / 1000n)),
        afterCursor: request.afterCursor ?? '',
      },
      agent.metadata(call),
      call.deadline === undefined ? {} : { deadline: call.deadline },
    );
    const cancel = () => stream.cancel();
    call.signal?.addEventListener('abort', cancel, { once: true });
    try {
      for await (const response of stream as AsyncIterable<LogsResponse>) {
        yield { dropped: Number(response.droppedLines), lines: response.entries.map((entry) => logLineFromProto(entry, agent.host)) };
      }
    } catch (error) {
      throw HostFailure.from(agent.host, error);
    } finally {
      call.signal?.removeEventListener('abort', cancel);
      stream.cancel();
    }
  }

  async runs(ref: StreamRef, options: RunsOptions, call: CallScope): Promise<StreamRun[]> {
    const agent = await this.route(ref, options.host, call);
    const response = await agent.call(agent.streams.listRuns, { team: ref.team, name: ref.name, limit: options.limit }, call);
    return response.runs.map((run) => runFromProto(run, agent.host));
  }

  /**
   * The host a call about a stream goes to: the one named; else the one host that declares it
   * among those that answered within the per-host deadline.
   */
  private async route(ref: StreamRef, host: string | undefined, call: CallScope): Promise<Agent> {
    if (host !== undefined) return this.agentNamed(host);
    const team = this.teams.of(ref.team, call.caller);
    await team.ready(call, this.membership.deadlineMs);
    const { hosts, unanswered } = team.declaring(ref.name);
    const stream = `stream '${ref.name}' of team '${ref.team}'`;
    if (hosts.length === 1) return hosts[0]!;
    if (hosts.length > 1) {
      throw new StreamOnSeveralHostsError(`${stream} is declared on several hosts: ${hosts.map((agent) => agent.host).sort().join(', ')}; name one (host)`);
    }
    if (unanswered.length > 0) {
      const which = unanswered.map((error) => `${error.host} (${error.message})`).join(', ');
      throw new HostsDidNotAnswerError(`${stream} is not declared on the hosts that answered, and ${which} did not answer: it may be there; retry`);
    }
    throw new StreamNotDeclaredError(`${stream} is not declared on any host of the fleet`);
  }

  private agentNamed(host: string): Agent {
    const agent = this.membership.agent(host);
    if (!agent) throw new HostNotInFleetError(host);
    return agent;
  }
}

/** Every stream of the team on one host, page after page, within the scope's deadlines. */
async function listAll(agent: Agent, team: string, scope: HostCallScope): Promise<StreamSummary[]> {
  const rows: StreamSummary[] = [];
  let pageToken = '';
  do {
    const page: ListStreamsResponse = await agent.call(agent.streams.listStreams, { team, pageSize: AGENT_PAGE_SIZE, pageToken }, scope);
    for (const summary of page.streams) rows.push(summaryFromProto(summary, agent.host));
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  return rows;
}

/** ms as a google.protobuf.Duration. */
function durationOf(ms: number): { seconds: number; nanos: number } {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}
