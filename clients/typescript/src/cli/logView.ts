import type { LogLine } from '../index.js';
import { clockParts } from '../format.js';
import type { CellStyle } from './table.js';
import type { Paint } from './terminal.js';
import { visible } from './visible.js';

/**
 * One line as `journalctl` prints it in its default short format, `Nov 25 22:36:28 identifier[pid]:
 * message`, the time in this process's zone. The host is left out (one server's streams), and the
 * identifier is the stream's name for the worker's lines, `systemd` for systemd's and
 * `systemd-journald` for the journal's notes of lines it dropped. The message
 * is shown with its control characters escaped (visible.ts): a worker writes it.
 */
export function formatLogLine(
  line: Pick<LogLine, 'time' | 'priority' | 'pid' | 'message' | 'source'>,
  streamName: string,
  paint: Paint,
  timeZone?: string,
): string {
  const identifier = line.source === 'systemd' ? 'systemd' : line.source === 'journal' ? 'systemd-journald' : streamName;
  const pid = line.pid === null ? '' : `[${line.pid}]`;
  const time = line.time ? shortTime(line.time, timeZone) : '-'.padEnd(15);
  return `${time} ${identifier}${pid}: ${paint(priorityStyle(line.priority), visible(line.message))}`;
}

/**
 * journalctl's colours by priority (src/shared/logs-show.c): err and worse red, warning yellow,
 * notice bold, debug grey, info as it is.
 */
export function priorityStyle(priority: number): CellStyle | undefined {
  if (priority <= 3) return 'bad';
  if (priority === 4) return 'warn';
  if (priority === 5) return 'strong';
  if (priority >= 7) return 'dim';
  return undefined;
}

/** strftime's `%b %d %H:%M:%S`: `Nov 05 09:03:07`. */
export function shortTime(time: Date, timeZone?: string): string {
  const part = clockParts(time, timeZone, { month: 'short', day: '2-digit' });
  return `${part('month')} ${part('day')} ${part('hour')}:${part('minute')}:${part('second')}`;
}
