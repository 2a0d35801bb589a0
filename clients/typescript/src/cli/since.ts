import { UsageError } from './usageError.js';

/**
 * `--since TIME` as journalctl takes it (systemd.time(7), "PARSING TIMESTAMPS"): `2026-11-25
 * 13:32:23`, `2026-11-25`, `13:32` (today), `now`, `today`, `yesterday`, `tomorrow`, `-1h`,
 * `1h 30min ago`, `+5min`, `@1764000000`, with ` UTC` for a time in UTC rather than the local
 * zone; and ISO 8601 with a zone (`2026-11-25T13:32:23Z`), which scripts print.
 */
export function parseSince(text: string, now: Date = new Date()): Date {
  const value = text.trim();
  const fail = () => new UsageError(`--since: cannot read '${text}' as a time (e.g. '2026-11-25 13:32', 'today', '-1h', '10min ago')`);

  if (value === 'now') return now;
  if (value === 'today' || value === 'yesterday' || value === 'tomorrow') {
    const day = new Date(now.getFullYear(), now.getMonth(), now.getDate());
    day.setDate(day.getDate() + { today: 0, yesterday: -1, tomorrow: 1 }[value]);
    return day;
  }
  if (value.startsWith('@')) {
    // Number('') is 0: a bare '@' is no time, not the epoch.
    if (!/^@\d+(?:\.\d+)?$/.test(value)) throw fail();
    return new Date(Number(value.slice(1)) * 1000);
  }
  const relative = /^([+-])\s*(.+)$/.exec(value) ?? /^(.+?)\s+(ago|left)$/.exec(value);
  if (relative) {
    const [sign, span] = relative[1] === '+' || relative[1] === '-' ? [relative[1], relative[2]!] : [relative[2] === 'ago' ? '-' : '+', relative[1]!];
    const ms = parseTimespan(span);
    if (ms === undefined) throw fail();
    return new Date(now.getTime() + (sign === '-' ? -ms : ms));
  }
  // ISO 8601's date-time separator, a 'T' between digits (not the T of ' UTC').
  if (/\dT\d/.test(value)) {
    const parsed = Date.parse(value);
    if (Number.isNaN(parsed)) throw fail();
    return new Date(parsed);
  }
  const absolute = /^(?:[A-Za-z]{3,9}\s+)?(?:(\d{4})-(\d{2})-(\d{2}))?\s*(?:(\d{2}):(\d{2})(?::(\d{2}))?)?\s*(UTC)?$/.exec(value);
  if (!absolute || (absolute[1] === undefined && absolute[4] === undefined)) throw fail();
  const [, year, month, day, hour, minute, second, utc] = absolute;
  if (Number(hour ?? 0) > 23 || Number(minute ?? 0) > 59 || Number(second ?? 0) > 59) throw fail();
  const fields = [
    year ? Number(year) : utc ? now.getUTCFullYear() : now.getFullYear(),
    year ? Number(month) - 1 : utc ? now.getUTCMonth() : now.getMonth(),
    year ? Number(day) : utc ? now.getUTCDate() : now.getDate(),
    Number(hour ?? 0),
    Number(minute ?? 0),
    Number(second ?? 0),
  ] as const;
  const date = utc ? new Date(Date.UTC(...fields)) : new Date(...fields);
  // 2026-02-30 would roll over into March: not a date.
  if (Number.isNaN(date.getTime()) || (year && (utc ? date.getUTCDate() : date.getDate()) !== Number(day))) throw fail();
  return date;
}

/** systemd.time(7)'s time spans, in ms: `1h 30min`, `90s`, `1.5h`, `2 weeks`. Undefined when unreadable. */
export function parseTimespan(text: string): number | undefined {
  const span = text.trim();
  if (!/^(?:\d+(?:\.\d+)?\s*[a-zA-Zµ]*\s*)+$/.test(span)) return undefined;
  let total = 0;
  for (const [, number, unit] of span.matchAll(/(\d+(?:\.\d+)?)\s*([a-zA-Zµ]*)/g)) {
    const factor = TIMESPAN_UNITS[unit || 's'];
    if (factor === undefined) return undefined;
    total += Number(number) * factor;
  }
  return total;
}

const SECOND = 1000;
const TIMESPAN_UNITS: Record<string, number> = {
  ...Object.fromEntries(['usec', 'us', 'µs'].map((unit) => [unit, 0.001])),
  ...Object.fromEntries(['msec', 'ms'].map((unit) => [unit, 1])),
  ...Object.fromEntries(['seconds', 'second', 'sec', 's'].map((unit) => [unit, SECOND])),
  ...Object.fromEntries(['minutes', 'minute', 'min', 'm'].map((unit) => [unit, 60 * SECOND])),
  ...Object.fromEntries(['hours', 'hour', 'hr', 'h'].map((unit) => [unit, 3600 * SECOND])),
  ...Object.fromEntries(['days', 'day', 'd'].map((unit) => [unit, 86_400 * SECOND])),
  ...Object.fromEntries(['weeks', 'week', 'w'].map((unit) => [unit, 604_800 * SECOND])),
  ...Object.fromEntries(['months', 'month', 'M'].map((unit) => [unit, 2_629_800 * SECOND])),
  ...Object.fromEntries(['years', 'year', 'y'].map((unit) => [unit, 31_557_600 * SECOND])),
};
