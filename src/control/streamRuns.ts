import type { LogLine } from '../core/logLine.js';
import { RUN_LAST_LINES, type StreamRun } from '../core/run.js';
import type { StreamRef } from '../core/streamRef.js';
import { isAfter, type JournalEntry } from '../systemd/journalEntry.js';
import { entryOrigin } from '../systemd/journalctl.js';
import { MESSAGE_IDS } from '../systemd/journalMessages.js';
import { describeInvocation, endOfInvocation, type Invocation, InvocationCollector, isLineOf } from '../systemd/journalRuns.js';
import type { UnitProperties } from '../systemd/manager.js';
import { type CurrentInvocation, readCurrentInvocation } from '../systemd/serviceState.js';
import type { JournalReader } from './journalReader.js';
import { logLineOf } from './streamLogs.js';

/** What StreamRuns asks of the live view: whether the stream is shown, and whether systemd has its unit loaded. */
export interface RunsView {
  declaration(ref: StreamRef): Promise<{ unit: string }>;
  isLoaded(unit: string): boolean;
}

/** Who reads, and until when. */
export interface RunsScope {
  /** Whose call the reads are for (JournalBudget); none: the server's own. */
  readonly identity?: string;
  readonly signal?: AbortSignal;
}

/**
 * A stream's recent runs, from the journal: the manager's entries about its unit tell when each
 * invocation began and ended and how (journalRuns.ts), and each run's own lines are read between
 * its start and the next one's. The newest run's end, which a user manager logs only at debug
 * level when it is clean, is completed from systemd's own record of the unit when that is the
 * same invocation. Every journalctl runs within the caller's budget.
 */
export class StreamRuns {
  constructor(
    private readonly reader: JournalReader,
    private readonly view: RunsView,
    private readonly readUnit: (unit: string) => Promise<UnitProperties>,
  ) {}

  async runs(ref: StreamRef, limit: number, scope: RunsScope): Promise<StreamRun[]> {
    const { unit } = await this.view.declaration(ref);
    const invocations = await this.invocations(unit, limit, scope);
    const shown = invocations.slice(0, limit);
    // Read oldest first: the lines of each run's processes are known before the next run's are read.
    const lines = new Map<string, JournalEntry[]>();
    let earlierPids = new Set<number>();
    for (let i = shown.length - 1; i >= 0; i--) {
      const read = await this.linesOf(unit, shown[i]!, shown[i - 1], earlierPids, scope);
      lines.set(shown[i]!.id, read.lines);
      earlierPids = read.pids;
    }
    const current = this.view.isLoaded(unit) ? readCurrentInvocation(await this.readUnit(unit)) : undefined;
    return shown.map((invocation, index) => {
      const facts = describeInvocation(invocation, invocations[index + 1], index > 0);
      const run: StreamRun = {
        invocationId: invocation.id,
        ...facts,
        restart: facts.restarts,
        lastLines: (lines.get(invocation.id) ?? []).map((entry) => logLineOf(entry, entryOrigin(entry, this.reader.source, unit) ?? 'unit')),
      };
      return index === 0 && current?.id === invocation.id ? withSystemdsRecord(run, current) : run;
    });
  }

  /**
   * One run's newest `count` lines (its worker's and systemd's about it, as `systemctl status`
   * counts them), found
   * by its invocation id, not by time: the lines of the run systemd started for an action, or of the
   * one running now. `earlierPids` are processes of runs before it (the main process a Restart
   * stopped): a line of theirs journald files late is not this run's. Undefined when the journal no
   * longer holds the run's first entry.
   */
  async linesOfRun(unit: string, invocationId: string, earlierPids: ReadonlySet<number>, scope: RunsScope & { count: number }): Promise<LogLine[] | undefined> {
    let first: JournalEntry | undefined;
    for await (const entry of this.reader.read(unit, { only: 'manager', reverse: true }, scope.identity, scope.signal)) {
      if (entry.invocationId === invocationId) first = entry;
      // Past the run's first entry ("Starting …"), or into the run before it: nothing earlier is its.
      if (entry.messageId === MESSAGE_IDS.unitStarting && entry.invocationId === invocationId) break;
      if (first !== undefined && entry.invocationId !== invocationId) break;
    }
    if (!first) return undefined;
    const { lines } = await this.linesOf(unit, { id: invocationId, entries: [first] }, undefined, earlierPids, scope, scope.count);
    return lines.slice(-scope.count).map((entry) => logLineOf(entry, entryOrigin(entry, this.reader.source, unit) ?? 'unit'));
  }

  /** The unit's newest `limit` invocations, and the one before the oldest (for its restart count). */
  private async invocations(unit: string, limit: number, { identity, signal }: RunsScope): Promise<Invocation[]> {
    const collector = new InvocationCollector();
    for await (const entry of this.reader.read(unit, { only: 'manager', reverse: true }, identity, signal)) {
      collector.add(entry);
      if (collector.complete > limit) break;
    }
    return collector.invocations();
  }

  /**
   * A run's newest RUN_LAST_LINES lines of its worker, with the manager's lines about it among them,
   * read newest first from just before the next run's first entry back to the run's own first one.
   * journald files a process's stdout and the manager's entries through different sockets, and
   * does not keep their order around a restart (seen on 252 under load: the new worker's first
   * lines before the manager's "Starting" of its run, the old one's last after it). So the pids
   * decide near the edges: past the run's end (its process exit), a line of a process the run had
   * is its own, any other the next run's; before its first entry, back to the previous run's end, a
   * line of a process no earlier run had is this run's. `earlierPids` are the previous run's;
   * `pids` are this run's.
   */
  private async linesOf(unit: string, invocation: Invocation, next: Invocation | undefined, earlierPids: ReadonlySet<number>, { identity, signal }: RunsScope, count = RUN_LAST_LINES) {
    const first = invocation.entries[0]!;
    const end = next ? endOfInvocation(invocation) : undefined;
    const window = { id: invocation.id, earlierPids };
    const read: Array<{ entry: JournalEntry; inTail: boolean }> = [];
    const pids = new Set<number>();
    let worker = 0;
    let lookedBack = 0;
    for await (const entry of this.reader.read(unit, { reverse: true, afterCursor: next?.entries[0]?.cursor }, identity, signal)) {
      const origin = entryOrigin(entry, this.reader.source, unit);
      if (!isAfter(entry, first)) {
        if (entry.cursor === first.cursor) {
          read.push({ entry, inTail: false });
          continue;
        }
        // Before the run's first entry: its own first lines, back to the manager's last word on the run before.
        if (++lookedBack > LOOK_BACK_ENTRIES || (origin === 'manager' && endsEarlierRun(entry, invocation.id))) break;
        if (origin === 'unit' && entry.pid !== undefined && isLineOf(entry, window)) {
          pids.add(entry.pid);
          read.push({ entry, inTail: false });
        }
        continue;
      }
      const inTail = end !== undefined && isAfter(entry, end);
      if (origin === 'manager') {
        if (entry.invocationId === invocation.id) read.push({ entry, inTail: false });
        continue;
      }
      if (origin === 'journal') {
        read.push({ entry, inTail: false });
        continue;
      }
      if (origin !== 'unit' || !isLineOf(entry, window)) continue;
      read.push({ entry, inTail });
      if (inTail) continue;
      if (entry.pid !== undefined) pids.add(entry.pid);
      if (++worker >= count) break;
    }
    // Past its end, only its own processes' lines are this run's; the others are the next run's.
    const lines = read
      .filter(({ entry, inTail }) => !inTail || (entry.pid !== undefined && pids.has(entry.pid)))
      .map(({ entry }) => entry)
      .reverse();
    return { lines: newestOfWorker(lines, count, this.reader.source, unit), pids };
  }
}

/** Entries read before a run's first one, at most, to find its first lines filed early. */
const LOOK_BACK_ENTRIES = 200;

/**
 * Whether a manager entry is about an earlier run: the manager writes its last one ("Stopped …")
 * after that run's processes are gone, so no line before it is this run's.
 */
function endsEarlierRun(entry: JournalEntry, id: string): boolean {
  return entry.invocationId !== undefined && entry.invocationId !== id;
}

/** The lines, oldest first, from the oldest of the newest `count` of the worker's on. */
function newestOfWorker(lines: readonly JournalEntry[], count: number, source: JournalReader['source'], unit: string): JournalEntry[] {
  let worker = 0;
  for (let i = lines.length - 1; i >= 0; i--) {
    if (entryOrigin(lines[i]!, source, unit) === 'unit' && ++worker > count) return lines.slice(i + 1);
  }
  return [...lines];
}

/**
 * The newest run completed from what systemd holds for the same invocation: while it runs, nothing
 * has ended; once it has, its end time, result and how its main process exited.
 */
function withSystemdsRecord(run: StreamRun, current: CurrentInvocation): StreamRun {
  // `activating` in SubState `auto-restart` is the wait before systemd restarts it: this run has ended.
  const running = ['active', 'deactivating', 'reloading'].includes(current.activeState) || (current.activeState === 'activating' && current.subState !== 'auto-restart');
  if (running) return { ...run, endedUsec: undefined, result: undefined, exitCode: undefined, exitStatus: undefined };
  return {
    ...run,
    endedUsec: run.endedUsec ?? current.inactiveEnterUsec,
    result: current.result || run.result,
    exitCode: current.exitCode ?? run.exitCode,
    exitStatus: current.exitCode === undefined ? run.exitStatus : current.exitStatus,
  };
}

