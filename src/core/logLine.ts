/**
 * Who wrote a log line: the stream's worker (its stdout, stderr or syslog), systemd about it, or
 * the journal noting a gap in it (lines it dropped).
 */
export type LogSource = 'worker' | 'systemd' | 'journal';

/** One line of a stream's log, from the journal. */
export interface LogLine {
  /** When the journal received it, in µs since the epoch (journal precision). */
  readonly timeUsec: bigint;
  /** syslog level: 0 (emerg) … 3 (err), 4 (warning), 5 (notice), 6 (info), 7 (debug). */
  readonly priority: number;
  readonly pid?: number;
  readonly message: string;
  /** Where the line is in the journal: pass it back to continue right after it. */
  readonly cursor: string;
  readonly source: LogSource;
  /** The host whose journal it is from; absent from a backend that serves one host. */
  readonly host?: string;
  /** `journal` lines: how many of the stream's lines the journal dropped there. */
  readonly suppressed?: number;
}

/** Lines for a reader, after `dropped` lines it was too slow to take. */
export interface LogBatch {
  readonly dropped: number;
  readonly lines: readonly LogLine[];
}

/**
 * Most lines one Logs call sends before following, and most lines GetStatus and actions include.
 * This and DEFAULT_TAIL_LINES are what the clients document: clients/testdata/defaults.json.
 */
export const MAX_TAIL_LINES = 10_000;

/** Lines sent when a caller asks for neither a count, a time nor a cursor (as `journalctl -n`). */
export const DEFAULT_TAIL_LINES = 10;

/** A log line quoted in a sentence: its text, cut to `max` characters. */
export function quoteLine(line: LogLine, max = 200): string {
  const text = line.message.length > max ? `${line.message.slice(0, max)}…` : line.message;
  return JSON.stringify(text);
}
