/**
 * How long ago, as `systemctl status` says it after a timestamp ("since …; 2min 3s ago"):
 * systemd's format_timestamp_relative() (src/basic/time-util.c), unit for unit — two units down to
 * the minute, then one. A month is 30.44 days and a year 365.25 days, as systemd counts them.
 */
const MS = { SECOND: 1_000, MINUTE: 60_000, HOUR: 3_600_000, DAY: 86_400_000, WEEK: 604_800_000, MONTH: 2_629_800_000, YEAR: 31_557_600_000 };

export function formatRelative(then: Date, now: Date = new Date()): string {
  const delta = now.getTime() - then.getTime();
  if (delta === 0) return 'now';
  return `${formatSpan(Math.abs(delta))} ${delta > 0 ? 'ago' : 'left'}`;
}

/** The span alone, as the UPTIME column shows it: `2min 3s`, `1 day 3h`, `5 weeks 2 days`. */
export function formatSpan(ms: number): string {
  const whole = (unit: number) => Math.floor(ms / unit);
  const rest = (unit: number, of: number) => Math.floor((ms % of) / unit);
  const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  if (ms >= MS.YEAR) return `${plural(whole(MS.YEAR), 'year', 'years')} ${plural(rest(MS.MONTH, MS.YEAR), 'month', 'months')}`;
  if (ms >= MS.MONTH) return `${plural(whole(MS.MONTH), 'month', 'months')} ${plural(rest(MS.DAY, MS.MONTH), 'day', 'days')}`;
  if (ms >= MS.WEEK) return `${plural(whole(MS.WEEK), 'week', 'weeks')} ${plural(rest(MS.DAY, MS.WEEK), 'day', 'days')}`;
  if (ms >= 2 * MS.DAY) return `${whole(MS.DAY)} days`;
  if (ms >= 25 * MS.HOUR) return `1 day ${Math.floor((ms - MS.DAY) / MS.HOUR)}h`;
  if (ms >= 6 * MS.HOUR) return `${whole(MS.HOUR)}h`;
  if (ms >= MS.HOUR) return `${whole(MS.HOUR)}h ${rest(MS.MINUTE, MS.HOUR)}min`;
  if (ms >= 5 * MS.MINUTE) return `${whole(MS.MINUTE)}min`;
  if (ms >= MS.MINUTE) return `${whole(MS.MINUTE)}min ${rest(MS.SECOND, MS.MINUTE)}s`;
  if (ms >= MS.SECOND) return `${whole(MS.SECOND)}s`;
  return `${Math.floor(ms)}ms`;
}
