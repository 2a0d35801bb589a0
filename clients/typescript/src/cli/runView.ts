import type { StreamRun } from '../index.js';
import { formatLastExit } from './lastExit.js';
import { shortTime } from './logView.js';
import { type CellStyle, type Column, layoutTable } from './table.js';
import type { Paint } from './terminal.js';
import { visible } from './visible.js';

const RUN_COLUMNS: Column[] = [
  { header: 'STARTED' },
  { header: 'ENDED' },
  { header: 'RESULT' },
  { header: 'EXIT' },
  { header: 'RESTART', align: 'right' },
  { header: 'LAST LINE' },
];

/** Longest last line shown in a table row: the rest is in `logs` and `-o json`. */
const LAST_LINE_CHARS = 80;

/**
 * Runs as a table, newest first: when each started and ended, systemd's result, how its process
 * exited (as `systemctl status` writes it), which automatic restart it was, and its worker's last
 * line (escaped: a worker wrote it).
 */
export function runsTable(runs: readonly StreamRun[], paint: Paint, timeZone?: string): string[] {
  const rows = runs.map((run) => [
    run.started ? shortTime(run.started, timeZone) : '-',
    run.ended ? shortTime(run.ended, timeZone) : run.result === null ? { text: 'running', style: 'good' as CellStyle } : '-',
    run.result === null ? '' : { text: run.result, style: (run.result === 'success' ? 'good' : 'bad') as CellStyle },
    exitOf(run) ?? '',
    String(run.restart),
    lastLine(run),
  ]);
  return layoutTable(RUN_COLUMNS, rows, paint);
}

/** `code=exited, status=3/NOTIMPLEMENTED`, `code=killed, signal=KILL`, or undefined when not known. */
function exitOf(run: StreamRun): string | undefined {
  if (run.exitStatus === null) return undefined;
  return run.exitCode === 'exited' ? formatLastExit(run.exitStatus, undefined) : formatLastExit(undefined, run.exitStatus)?.replace('killed', run.exitCode ?? 'killed');
}

function lastLine(run: StreamRun): string {
  const line = [...run.lastLines].reverse().find((candidate) => candidate.source === 'worker');
  if (!line) return '';
  const text = visible(line.message);
  return text.length > LAST_LINE_CHARS ? `${text.slice(0, LAST_LINE_CHARS)}…` : text;
}
