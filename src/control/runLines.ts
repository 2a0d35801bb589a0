import { ResourceExhaustedError } from '../core/errors.js';
import type { LogLine } from '../core/logLine.js';
import type { StreamRef } from '../core/streamRef.js';
import { JournalUnavailableError } from '../systemd/journalctl.js';
import type { UnitProperties } from '../systemd/manager.js';
import type { StreamLogs } from './streamLogs.js';
import type { StreamRuns } from './streamRuns.js';

/** What RunLines asks of the live view: whether the stream is shown, and whether systemd has its unit loaded. */
export interface ShownUnits {
  declaration(ref: StreamRef): Promise<{ unit: string }>;
  isLoaded(unit: string): boolean;
}

/** Where RunLines reads a stream's newest lines (StreamLogs). */
export type RecentLines = Pick<StreamLogs, 'recent'>;

/** Where RunLines reads one run's lines by its invocation id (StreamRuns). */
export type LinesOfRun = Pick<StreamRuns, 'linesOfRun'>;

/** Where RunLines reads a unit's properties (InactiveExitTimestamp, InvocationID, ...) in systemd. */
export type ReadUnitProperties = (unit: string) => Promise<UnitProperties>;

/** Log lines a Start or Restart answer carries: those of this start, the newest ten. */
export const ACTION_LOG_LINES = 10;

/**
 * How long to wait, after a start failed, for systemd's own line about it (a notice or worse, e.g.
 * `Main process exited, code=exited, status=3/NOTIMPLEMENTED`) to reach the journal: systemd sends
 * it before it announces the state change we reacted to, but journald files it a moment later.
 */
const FAILURE_LINES_WAIT_MS = 500;
const FAILURE_LINES_POLL_MS = 25;

/**
 * Which of a stream's log lines belong to one run: the lines GetStatus shows (the current run) and
 * those a Start or Restart answers with (this start). Lines are a bonus to both answers: without a
 * journal they are left out, never the reason a call fails.
 */
export class RunLines {
  constructor(
    /** Where the streams' log lines come from; without it, no lines. */
    private readonly logs: RecentLines | undefined,
    private readonly view: ShownUnits,
    private readonly readUnit: ReadUnitProperties,
    /**
     * Where a run's lines are read by its invocation id. Without it (or without the run's first
     * entry in the journal), by time: since the unit last started, or since the action came.
     */
    private readonly runs?: LinesOfRun,
  ) {}

  /**
   * The stream's newest `count` log lines since its unit last started (InactiveExitTimestamp), as
   * `systemctl status` shows them, read within `identity`'s journal budget (a GetStatus caller's:
   * its reads count as its Logs calls do). A journal that cannot be read, or a caller at its cap,
   * gives no lines and says why.
   * A unit systemd has not loaded is not asked about (reading it would make systemd load it, and
   * announce it with UnitNew): it has no last run on record, as systemd would load it afresh
   * (InactiveExitTimestamp 0), so its newest lines are the answer.
   */
  async ofCurrentRun(ref: StreamRef, count: number, { signal, identity }: { signal?: AbortSignal; identity?: string } = {}): Promise<{ lines: LogLine[]; unavailable?: string }> {
    if (count <= 0) return { lines: [] };
    if (!this.logs) return { lines: [], unavailable: 'this server reads no journal' };
    const unit = (await this.view.declaration(ref)).unit;
    const run = this.view.isLoaded(unit) ? lastRun(await this.readUnit(unit)) : {};
    try {
      const ofRun = run.invocationId && this.runs ? await this.runs.linesOfRun(unit, run.invocationId, new Set(), { identity, signal, count }) : undefined;
      return { lines: ofRun ?? (await this.logs.recent(ref, count, { ...run, signal, identity })) };
    } catch (error) {
      if (!(error instanceof JournalUnavailableError || error instanceof ResourceExhaustedError)) throw error;
      return { lines: [], unavailable: error.message };
    }
  }

  /**
   * The lines of the run the Start or Restart began, the newest ACTION_LOG_LINES: by its invocation
   * id (systemd's InvocationID once the job is done), the lines of `previousMainPid` (the worker a
   * Restart stopped, or a queued Start waited out) never among them; without that, those since
   * `sinceUsec` (when the action came). After a failure, first waits (briefly) for systemd's line
   * about it, so the lines include how the worker ended. A journal that cannot be read leaves them
   * out rather than failing the action.
   */
  async ofThisStart(ref: StreamRef, sinceUsec: bigint, failed: boolean, signal?: AbortSignal, previousMainPid?: number): Promise<LogLine[]> {
    const logs = this.logs;
    if (!logs) return [];
    const ofRun = await this.runReader(ref, previousMainPid, signal).catch(() => undefined);
    const read = async () =>
      (await ofRun?.().catch(() => undefined)) ?? (await logs.recent(ref, ACTION_LOG_LINES, { sinceUsec, signal }).catch(() => [] as LogLine[]));
    let lines = await read();
    if (!failed) return lines;
    const saidWhy = () => lines.some((line) => line.source === 'systemd' && line.priority <= 5);
    for (const giveUpAt = Date.now() + FAILURE_LINES_WAIT_MS; !saidWhy() && Date.now() < giveUpAt && !signal?.aborted; ) {
      await new Promise((resolve) => setTimeout(resolve, FAILURE_LINES_POLL_MS));
      lines = await read();
    }
    // journald may file systemd's line before the worker's last one when both reached it in the
    // same turn of its loop (a worker that writes and exits at once): it files the other in that
    // turn too, so one more read has it.
    return saidWhy() ? read() : lines;
  }

  /** How to read the current run's lines by its invocation id, when there is a way. */
  private async runReader(ref: StreamRef, previousMainPid: number | undefined, signal?: AbortSignal): Promise<(() => Promise<LogLine[] | undefined>) | undefined> {
    const runs = this.runs;
    if (!runs) return undefined;
    const unit = (await this.view.declaration(ref)).unit;
    const { invocationId } = lastRun(await this.readUnit(unit));
    if (!invocationId) return undefined;
    const earlier = new Set(previousMainPid === undefined ? [] : [previousMainPid]);
    return () => runs.linesOfRun(unit, invocationId, earlier, { identity: undefined, signal, count: ACTION_LOG_LINES });
  }
}

/** A worker's first lines may come before systemd records the unit's start; see lastRun. */
const FORK_SLACK_USEC = 1_000_000n;

/**
 * Where the unit's last run begins in the journal, as `systemctl status` means "since it last
 * started". systemd stamps InactiveExitTimestamp only after it has forked the main process, so the
 * worker's first lines can be stamped a moment earlier (we saw them 0.6 ms before it): reach back a
 * little, but never before the previous run ended (InactiveEnterTimestamp), and leave out systemd's
 * lines about another run (the unit's InvocationID, which its lines carry as USER_INVOCATION_ID).
 */
export function lastRun(props: UnitProperties): { sinceUsec?: bigint; invocationId?: string } {
  const usec = (value: unknown) => (typeof value === 'bigint' && value > 0n ? value : undefined);
  const exit = usec(props.InactiveExitTimestamp);
  const enter = usec(props.InactiveEnterTimestamp);
  let sinceUsec = exit === undefined ? undefined : exit - FORK_SLACK_USEC;
  if (sinceUsec !== undefined && enter !== undefined && enter <= exit! && enter > sinceUsec) sinceUsec = enter;
  const id = props.InvocationID;
  const invocationId = id instanceof Uint8Array && id.length === 16 ? Buffer.from(id).toString('hex') : undefined;
  return { sinceUsec, invocationId };
}
