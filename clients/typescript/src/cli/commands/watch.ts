import { type FleetHostError, type ServiceStatus, watchStreams } from '../../index.js';
import type { Context } from '../context.js';
import { ExitCode } from '../exitCodes.js';
import { countLine, eventLine, namesSeveralHosts, statusJson, statusTable } from '../statusView.js';
import { LiveRegion } from '../terminal.js';

/** Changes that arrive together (a watch's first snapshot, a restart's few states) are drawn once. */
const REDRAW_AFTER_MS = 50;
/** UPTIME ticks on. */
const REFRESH_MS = 1_000;

/**
 * `watch TEAM`: the client library's watchStreams (so how the server batches its messages does not
 * matter here). On a terminal, a table redrawn in place; on a pipe or with -o json, one line per
 * event. Runs until Ctrl-C (exit 0) or until the server ends the watch (its error, and exit code).
 */
export async function watch(context: Context, [team]: readonly string[]): Promise<ExitCode> {
  // A fleet gateway's host that stops answering: its rows are no longer current, so they go
  // (on a terminal) until the host's streams come again, and it is said (anywhere).
  const onHostLost = ({ host, error }: FleetHostError) => {
    if (context.json) context.outJson({ hostError: { host, code: error.codeName, message: error.details } });
    else if (live) live.lose(host, `${error.codeName}: ${error.details}`);
    else context.out(`host-lost ${host} ${error.codeName}: ${error.details}`);
  };
  const events = watchStreams(team!, { ...context.connection, ...(context.host ? { host: context.host } : {}), onHostLost });
  const live = !context.json && context.io.stdout.isTTY ? new LiveTable(context, team!) : undefined;
  const interrupted = () => {
    live?.close();
    process.exit(ExitCode.SUCCESS);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    live?.redraw();
    for await (const event of events) {
      if (context.json) context.outJson({ kind: event.kind, status: statusJson(event.status) });
      else if (live) live.apply(event.kind === 'REMOVED' ? { removed: event.status } : { status: event.status });
      else context.out(eventLine(event));
    }
    return ExitCode.SUCCESS;
  } finally {
    live?.close();
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }
}

/** The team's streams by name, drawn as a table in place on the terminal. */
class LiveTable {
  private readonly streams = new Map<string, ServiceStatus>();
  /** Hosts of a fleet that stopped answering, and why, until their streams come again. */
  private readonly lost = new Map<string, string>();
  private readonly region: LiveRegion;
  private readonly ticker: NodeJS.Timeout;
  private pending: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly context: Context,
    private readonly team: string,
  ) {
    this.region = new LiveRegion(context.io.stdout);
    this.ticker = setInterval(() => this.redraw(), REFRESH_MS);
  }

  apply(change: { status: ServiceStatus } | { removed: ServiceStatus }): void {
    // A fleet's stream is its host and name: the same name may run on two hosts.
    if ('removed' in change) this.streams.delete(rowKey(change.removed));
    else {
      this.streams.set(rowKey(change.status), change.status);
      if (change.status.details.host !== undefined) this.lost.delete(change.status.details.host);
    }
    this.pending ??= setTimeout(() => this.redraw(), REDRAW_AFTER_MS);
  }

  /** A host stopped answering: its rows go, and a line under the table says so. */
  lose(host: string, why: string): void {
    for (const [key, status] of this.streams) if (status.details.host === host) this.streams.delete(key);
    this.lost.set(host, why);
    this.pending ??= setTimeout(() => this.redraw(), REDRAW_AFTER_MS);
  }

  redraw(): void {
    if (this.closed) return;
    clearTimeout(this.pending);
    this.pending = undefined;
    const statuses = [...this.streams.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, status]) => status);
    const table = statuses.length > 0 ? [...statusTable(statuses, new Date(), this.context.paintOut, false, namesSeveralHosts(statuses)), ''] : [];
    const lost = [...this.lost].map(([host, why]) => this.context.paintOut('warn', `host ${host} is not answering (${why}): its streams are not shown`));
    this.region.draw([...table, ...lost, this.context.paintOut('dim', `${countLine(statuses.length, `of team ${this.team}`)}, watching (Ctrl-C to stop)`)]);
  }

  close(): void {
    if (this.closed) return;
    this.redraw();
    this.closed = true;
    clearInterval(this.ticker);
    clearTimeout(this.pending);
    this.region.close();
  }
}

/** A row's place: by name, then host (NUL sorts before any character of a name). */
function rowKey(status: ServiceStatus): string {
  return `${status.name}\u0000${status.details.host ?? ''}`;
}
