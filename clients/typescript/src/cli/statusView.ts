import type { FleetHostError, ServiceStatus, StreamEvent } from '../index.js';
import { formatLastExit } from './lastExit.js';
import { formatLogLine } from './logView.js';
import { type Cell, type CellStyle, type Column, layoutTable } from './table.js';
import type { Paint } from './terminal.js';
import { formatRelative, formatSpan } from './timespan.js';

/** How a stream's status reads, in systemctl's words and glyphs (pure: no I/O, `now` given). */

const ACTIVE_STYLES: Record<string, CellStyle | undefined> = { active: 'good', reloading: 'good', failed: 'bad' };

/**
 * systemctl's glyph for a unit's ActiveState (unit_active_state_to_glyph): ● running or changing,
 * ○ inactive, × failed.
 */
export function stateGlyph(activeState: string): Cell {
  if (activeState === 'failed') return { text: '×', style: 'bad' };
  if (['active', 'reloading', 'activating', 'deactivating'].includes(activeState)) return { text: '●', style: ACTIVE_STYLES[activeState] };
  return { text: '○' };
}

/** `active (running)`, `inactive (dead)`, `failed (Result: exit-code)`, as systemctl's Active: line. */
export function activeText(status: ServiceStatus): string {
  const { activeState, subState, result } = status.details;
  if (activeState === 'failed') return `failed (Result: ${result || 'unknown'})`;
  return `${activeState || 'unknown'} (${subState || 'unknown'})`;
}

/** Whether `status` exits 0 for it: active or reloading, as systemctl decides. */
export function isRunning(status: ServiceStatus): boolean {
  return status.active === 'active' || status.active === 'reloading';
}

/** The stream as `status` prints it, label column right-aligned as systemctl's. */
export function statusBlock(status: ServiceStatus, now: Date, paint: Paint): string[] {
  const d = status.details;
  const glyph = stateGlyph(d.activeState);
  const lines = [`${paint(glyph.style, glyph.text)} ${d.team}/${status.name}`];
  const field = (label: string, value: string) => lines.push(`${label.padStart(11)}: ${value}`);
  // '' is a unit systemd has not loaded into memory (not running, nothing refers to it).
  // As systemctl: the unit's file state after its name, when the server says (`enabled`, `disabled`, …).
  field('Loaded', `${d.loadState || 'not loaded'} (${d.unit}${d.unitFileState ? `; ${d.unitFileState}` : ''})`);
  const since = d.started && status.started ? ` since ${status.started}; ${formatRelative(d.started, now)}` : '';
  field('Active', paint(ACTIVE_STYLES[d.activeState], activeText(status)) + since);
  if (status.pid !== null) field('Main PID', String(status.pid));
  if (status.tasks !== null) field('Tasks', String(status.tasks));
  if (status.memory !== null) field('Memory', status.memory);
  field('Restarts', String(d.restartCount));
  const lastExit = formatLastExit(d.exitStatus, d.exitSignal);
  if (lastExit) field('Last exit', lastExit);
  return lines;
}

/**
 * The stream's newest log lines since it last started, after a blank line, as `systemctl status`
 * ends; or, when the server could not read the journal, why.
 */
export function logExcerpt(status: ServiceStatus, paint: Paint): string[] {
  const { logs = [], logsUnavailable } = status.details;
  if (logs.length > 0) return ['', ...logs.map((line) => formatLogLine(line, status.name, paint))];
  return logsUnavailable ? ['', paint('dim', `(no log lines: ${logsUnavailable})`)] : [];
}

const LIST_COLUMNS: Column[] = [
  { header: '' },
  { header: 'NAME' },
  { header: 'LOAD' },
  { header: 'ENABLED' },
  { header: 'ACTIVE' },
  { header: 'SUB' },
  { header: 'UPTIME' },
  { header: 'PID', align: 'right' },
  { header: 'MEMORY', align: 'right' },
];

/**
 * The streams as a table, as `systemctl list-units` shows units (a failed one marked ● in red).
 * `withUsage: false` leaves MEMORY out (a watch has no usage figures); `withHost` adds a HOST column
 * after NAME (a fleet's streams).
 */
export function statusTable(statuses: readonly ServiceStatus[], now: Date, paint: Paint, withUsage = true, withHost = false): string[] {
  const columns = withUsage ? LIST_COLUMNS : LIST_COLUMNS.slice(0, -1);
  const rows = statuses.map((s) => {
    const d = s.details;
    const troubled = d.activeState === 'failed' || (d.loadState !== 'loaded' && d.loadState !== '');
    const row: Cell[] = [
      troubled ? { text: '●', style: 'bad' } : { text: ' ' },
      { text: s.name },
      { text: d.loadState || '-', style: d.loadState === 'loaded' || d.loadState === '' ? undefined : 'bad' },
      { text: d.unitFileState || '-' },
      { text: d.activeState || '-', style: ACTIVE_STYLES[d.activeState] },
      { text: d.subState || '-' },
      { text: d.started ? formatSpan(Math.max(0, now.getTime() - d.started.getTime())) : '-' },
      { text: s.pid === null ? '-' : String(s.pid) },
      { text: s.memory ?? '-' },
    ];
    return withUsage ? row : row.slice(0, -1);
  });
  if (!withHost) return layoutTable(columns, rows, paint);
  const hostAfterName = <T>(cells: readonly T[], host: T) => [...cells.slice(0, 2), host, ...cells.slice(2)];
  return layoutTable(
    hostAfterName(columns, { header: 'HOST' }),
    rows.map((row, index) => hostAfterName(row, { text: statuses[index]!.details.host ?? '-' })),
    paint,
  );
}

/**
 * Whether statuses are a fleet's: they name more than one host. (A single lit-streamd names its
 * own host too; its table is shown as it always was.)
 */
export function namesSeveralHosts(statuses: readonly ServiceStatus[]): boolean {
  return new Set(statuses.map((status) => status.details.host)).size > 1;
}

/** The hosts of a fleet that did not answer, one line each, for under a table. */
export function hostErrorLines(hostErrors: readonly FleetHostError[]): string[] {
  return hostErrors.map(({ host, error }) => `  ${host}: ${error.codeName}: ${error.details.replace(/\s*\n\s*/g, ' ')}`);
}

/** `1 stream listed.`, `2 streams listed.` */
export function countLine(count: number, what: string): string {
  return `${count} ${count === 1 ? 'stream' : 'streams'} ${what}`;
}

/** A watch event as one line on a pipe: `changed contoso/bitcoin active (running), pid 4408`. */
export function eventLine(event: StreamEvent): string {
  const s = event.status;
  const head = `${event.kind.toLowerCase()} ${s.details.team}/${s.name}`;
  if (event.kind === 'REMOVED') return head;
  return `${head} ${activeText(s)}${s.pid === null ? '' : `, pid ${s.pid}`}`;
}

/** What `-o json` prints for a status: the client library's ServiceStatus with its team first. */
export function statusJson(status: ServiceStatus): Record<string, unknown> {
  return { team: status.details.team, ...status };
}
