import { untilAborted } from '../core/abortable.js';
import type { LogsRequest } from '../core/backend.js';
import { InvalidArgumentError } from '../core/errors.js';
import { DEFAULT_TAIL_LINES, type LogBatch, type LogLine, MAX_TAIL_LINES } from '../core/logLine.js';
import type { StreamRef } from '../core/streamRef.js';
import type { UnitNaming } from '../core/unitNaming.js';
import { isAfter, isCursor, type JournalEntry } from '../systemd/journalEntry.js';
import { entryOrigin, type JournalQuery, type JournalSource } from '../systemd/journalctl.js';
import type { FollowReader, JournalFollowers } from '../systemd/journalFollowers.js';
import type { JournalBudget } from './journalBudget.js';
import type { JournalReader } from './journalReader.js';

export interface RecentOptions {
  readonly sinceUsec?: bigint;
  /** The run (systemd's InvocationID, 32 hex digits) whose lines of systemd's are wanted. */
  readonly invocationId?: string;
  readonly signal?: AbortSignal;
  /** Whose call the read is for (JournalBudget's per-identity cap); none: the server's own. */
  readonly identity?: string;
}

/** Who reads, and until when: a Logs call's caller and cancellation. */
export interface ReadScope {
  /** The caller's identity (`anonymous` without an access file), for JournalBudget's per-identity cap. */
  readonly identity: string;
  readonly signal?: AbortSignal;
}

/** Most lines in one batch, and most bytes of text: a batch becomes one gRPC message. */
const BATCH_LINES = 500;
const BATCH_BYTES = 256 * 1024;

/** Where a stream's declaration is checked (StreamView). */
export interface Declarations {
  declaration(ref: StreamRef): Promise<{ unit: string }>;
}

/**
 * A stream's log: what its unit's processes wrote, what systemd said about it and where the
 * journal dropped lines of it, read from the journal (journalctl as a subprocess, matched on
 * journald's trusted fields for the exact unit), and followed through one shared journalctl per
 * unit. Every journalctl runs within the JournalBudget.
 */
export class StreamLogs {
  private readonly source: JournalSource;
  private readonly budget: JournalBudget;

  constructor(
    private readonly reader: JournalReader,
    private readonly followers: JournalFollowers,
    private readonly naming: UnitNaming,
    private readonly declarations: Declarations,
  ) {
    this.source = reader.source;
    this.budget = reader.budget;
  }

  /**
   * The stream's lines as asked, in batches, oldest first; when following, then each new line as
   * the journal gets it, with no line missed or repeated between the two, until `signal` aborts.
   * Every wait ends when `signal` aborts — a followed unit may write nothing for ever, and the call
   * pipeline can only end a generator parked at a `yield`.
   */
  async *read(ref: StreamRef, request: LogsRequest, { identity, signal }: ReadScope): AsyncGenerator<LogBatch> {
    const { unit } = await (signal ? untilAborted(this.declarations.declaration(ref), signal) : this.declarations.declaration(ref));
    const afterCursor = request.afterCursor || undefined;
    if (afterCursor !== undefined && !isCursor(afterCursor)) {
      throw new InvalidArgumentError('after_cursor is not a journal cursor: pass the `cursor` of a line this server sent');
    }
    // Join the follower first, then read what is already there: the backlog ends where the
    // follower starts (its `startsAfter`), and every later entry comes from the follower alone,
    // and only those after the caller's cursor. So no line is sent twice, none written after the
    // follower started is skipped, and the lines a slow reader's follower buffer had to drop were
    // never sent: `dropped` counts exactly those.
    const follower = request.follow ? await this.follow(unit, identity, afterCursor, signal) : undefined;
    try {
      const followerHasIt = (entry: JournalEntry) => follower !== undefined && (follower.startsAfter === undefined || isAfter(entry, follower.startsAfter));
      const lines = afterCursor !== undefined ? (request.follow ? undefined : cap(request.tailLines, MAX_TAIL_LINES)) : this.tailOf(request);
      if (lines !== 0) {
        // `since` is applied here, not with journalctl's --since: with it, --lines=N would be the
        // first N since then rather than the newest N.
        const entries = this.journal(unit, { afterCursor, lines }, identity, signal);
        for await (const batch of batches(entries)) {
          const kept = this.lines(
            unit,
            batch.entries.filter((entry) => !followerHasIt(entry)),
            request.sinceUsec,
          );
          if (kept.length > 0) yield { dropped: 0, lines: kept };
        }
      }
      if (!follower) return;
      for await (const batch of follower.batches(signal)) {
        const kept = this.lines(unit, batch.entries, request.sinceUsec);
        if (kept.length > 0 || batch.dropped > 0) yield { dropped: batch.dropped, lines: kept };
      }
      signal?.throwIfAborted();
    } finally {
      follower?.close();
    }
  }

  /**
   * The stream's newest `lines` lines (for status and actions), none older than `sinceUsec`, and
   * none of systemd's about another run than `invocationId` (the unit's InvocationID) when given.
   */
  async recent(ref: StreamRef, lines: number, { sinceUsec, invocationId, signal, identity }: RecentOptions = {}): Promise<LogLine[]> {
    if (lines <= 0) return [];
    const unit = this.naming.unitOf(ref);
    const entries: JournalEntry[] = [];
    for await (const entry of this.journal(unit, { lines: Math.min(lines, MAX_TAIL_LINES) }, identity, signal)) entries.push(entry);
    return this.lines(unit, entries, sinceUsec, invocationId);
  }

  /** A share of the unit's follower, within the budget; closing the reader gives both back. */
  private async follow(unit: string, identity: string, afterCursor: string | undefined, signal?: AbortSignal): Promise<FollowReader> {
    const release = await this.budget.follow(identity, unit, signal);
    try {
      const reader = await this.followers.follow(unit, { signal, afterCursor });
      reader.onClosed(release);
      return reader;
    } catch (error) {
      release();
      throw error;
    }
  }

  private tailOf(request: LogsRequest): number {
    return cap(request.tailLines ?? (request.sinceUsec !== undefined ? MAX_TAIL_LINES : DEFAULT_TAIL_LINES), MAX_TAIL_LINES);
  }

  private journal(unit: string, query: JournalQuery, identity: string | undefined, signal?: AbortSignal): AsyncGenerator<JournalEntry> {
    return this.reader.read(unit, query, identity, signal);
  }

  /**
   * Entries as log lines: only those the unit, its manager or the journal wrote about it, none
   * older than `sinceUsec`, none of the manager's about another run than `invocationId`.
   */
  private lines(unit: string, entries: readonly JournalEntry[], sinceUsec?: bigint, invocationId?: string): LogLine[] {
    const lines: LogLine[] = [];
    for (const entry of entries) {
      if (sinceUsec !== undefined && entry.realtimeUsec < sinceUsec) continue;
      const origin = entryOrigin(entry, this.source, unit);
      if (!origin) continue;
      if (origin === 'manager' && invocationId && entry.invocationId && entry.invocationId !== invocationId) continue;
      lines.push(logLineOf(entry, origin));
    }
    return lines;
  }
}

/** An entry in the product's words: who wrote it, and for the journal's notices how many lines it dropped. */
export function logLineOf(entry: JournalEntry, origin: 'unit' | 'manager' | 'journal'): LogLine {
  const line: LogLine = {
    timeUsec: entry.realtimeUsec,
    priority: entry.priority,
    pid: entry.pid,
    message: entry.message,
    cursor: entry.cursor,
    source: origin === 'unit' ? 'worker' : origin === 'manager' ? 'systemd' : 'journal',
  };
  return origin === 'journal' ? { ...line, suppressed: entry.droppedCount ?? 0 } : line;
}

function cap(value: number | undefined, max: number): number {
  return Math.min(value ?? max, max);
}

/** Groups entries into batches of at most BATCH_LINES lines and about BATCH_BYTES of text. */
async function* batches(entries: AsyncIterable<JournalEntry>): AsyncGenerator<{ entries: JournalEntry[] }> {
  let batch: JournalEntry[] = [];
  let bytes = 0;
  for await (const entry of entries) {
    batch.push(entry);
    bytes += entry.message.length;
    if (batch.length >= BATCH_LINES || bytes >= BATCH_BYTES) {
      yield { entries: batch };
      batch = [];
      bytes = 0;
    }
  }
  if (batch.length > 0) yield { entries: batch };
}
