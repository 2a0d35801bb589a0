import type { ClientReadableStream } from '@grpc/grpc-js';
import { type LogEntry, LogSource, type LogsResponse } from './gen/lit/stream/v1/stream.js';
import { LitStreamError } from './errors.js';

/** One line of a stream's log, from the journal. */
export interface LogLine {
  readonly kind: 'line';
  /** When the journal received it. */
  readonly time: Date | null;
  /** syslog priority: 0 emerg … 3 err, 4 warning, 5 notice, 6 info, 7 debug. */
  readonly priority: number;
  readonly pid: number | null;
  readonly message: string;
  /** Pass as `afterCursor` to continue right after this line. */
  readonly cursor: string;
  /** The stream's worker wrote it, systemd wrote it about the worker, or the journal notes a gap. */
  readonly source: 'worker' | 'systemd' | 'journal';
  /** `journal` lines: how many of the stream's lines the journal dropped there (its rate limit). */
  readonly suppressed?: number;
}

/**
 * Lines the server skipped for this reader, just before the next ones: it read slower than the
 * stream wrote. Yielded as soon as the server sends the count, even when no line follows yet. (The
 * Python client, where every item of logs() is a LogLine, adds the count to the next line's
 * `dropped_before` instead.)
 */
export interface DroppedLines {
  readonly kind: 'dropped';
  readonly count: number;
  /** `[12 lines dropped: read slower than the stream wrote]`, for printing. */
  readonly message: string;
}

export interface LogsOptions {
  /** How many of the newest lines first (default 10, or every line since `since`; at most 10,000). */
  readonly tail?: number;
  /** Go on with new lines as they are written, until the loop is left. */
  readonly follow?: boolean;
  /** Only lines since this time. */
  readonly since?: Date;
  /** Continue right after this line's cursor instead of the newest lines. */
  readonly afterCursor?: string;
  /**
   * How long the call may take, in ms from when it opens (the first iteration); then it fails with
   * DEADLINE_EXCEEDED. Default: the connection's `deadlineMs`, else 10 s, as every read (the Python
   * client's default too); with `follow`, none: a follow runs until the loop is left.
   */
  readonly deadlineMs?: number;
}

export function toLogLine(entry: LogEntry): LogLine {
  return {
    kind: 'line',
    time: entry.time ?? null,
    priority: entry.priority,
    pid: entry.pid ?? null,
    message: entry.message,
    cursor: entry.cursor,
    source: entry.source === LogSource.LOG_SOURCE_SYSTEMD ? 'systemd' : entry.source === LogSource.LOG_SOURCE_JOURNAL ? 'journal' : 'worker',
    ...(entry.source === LogSource.LOG_SOURCE_JOURNAL ? { suppressed: Number(entry.suppressedLines) } : {}),
  };
}

/**
 * A Logs call as an async iterable of lines (and, for a slow follower, counts of dropped lines).
 * As with watch(), the call opens at the first `next()`; leaving the loop cancels it.
 */
export async function* logEntries(open: () => ClientReadableStream<LogsResponse>): AsyncGenerator<LogLine | DroppedLines> {
  const call = open();
  try {
    for await (const response of call as AsyncIterable<LogsResponse>) {
      if (response.droppedLines > 0) {
        const count = response.droppedLines;
        yield { kind: 'dropped', count, message: `[${count} line${count === 1 ? '' : 's'} dropped: read slower than the stream wrote]` };
      }
      for (const entry of response.entries) yield toLogLine(entry);
    }
  } catch (error) {
    throw LitStreamError.from(error as Parameters<typeof LitStreamError.from>[0]);
  } finally {
    call.cancel();
  }
}
