import { RUN_LAST_LINES, type StreamRun } from '../core/run.js';
import type { StreamRef } from '../core/streamRef.js';
import { isAfter, type JournalEntry } from '../systemd/journalEntry.js';
import { entryOrigin } from '../systemd/journalctl.js';
import { describeInvocation, type Invocation, InvocationCollector, isLineOf } from '../systemd/journalRuns.js';
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
  readonly identity: string;
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
   * Lines from processes of an earlier run stay that run's (isLineOf); `pids` are this run's.
   */
  private async linesOf(unit: string, invocation: Invocation, next: Invocation | undefined, earlierPids: ReadonlySet<number>, { identity, signal }: RunsScope) {
    const first = invocation.entries[0]!;
    const until = next?.entries[0]?.cursor;
    const lines: JournalEntry[] = [];
    const pids = new Set<number>();
    let worker = 0;
    for await (const entry of this.reader.read(unit, { reverse: true, afterCursor: until }, identity, signal)) {
      if (!isAfter(entry, first)) break;
      const origin = entryOrigin(entry, this.reader.source, unit);
      if (origin === 'manager') {
        if (entry.invocationId === invocation.id) lines.push(entry);
        continue;
      }
      if (origin === 'journal') {
        lines.push(entry);
        continue;
      }
      if (origin !== 'unit' || !isLineOf(entry, { id: invocation.id, earlierPids })) continue;
      if (entry.pid !== undefined) pids.add(entry.pid);
      lines.push(entry);
      if (++worker >= RUN_LAST_LINES) break;
    }
    return { lines: lines.reverse(), pids };
  }
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

